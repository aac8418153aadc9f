// Package httpx is the HTTP middleware every tokenflow server shares: the
// request id, the request log, security headers, cross-origin protection,
// HEAD routed as GET, the client address behind trusted proxies, and the
// echo-jwt guard. It knows Echo and the token verifier, never a page, a
// view or a store, so the auth server, a gateway and a service behind it
// apply one policy each, written here once.
package httpx
