// Package deploy holds configurations for existing servers that stand in
// front of tokenflow's services, and the tests that run each one against
// the real auth server and notes service: apache/httpd.conf (Apache httpd
// with mod_oauth2) verifies the same access tokens as `tokenflow gateway`;
// haproxy/haproxy.cfg (HAProxy) balances two auth servers that share one
// PostgreSQL store, and its test kills each with SIGKILL under load.
//
// Run them with `go test ./deploy/ -v`. Without apache2 and mod_oauth2, or
// haproxy, or TEST_DATABASE_URL (a PostgreSQL server; .ci/run sets it), a
// test skips and says what to install (`apt-get install -y apache2
// libapache2-mod-oauth2`, `apt-get install -y haproxy`); with CI=true a
// missing one fails.
package deploy
