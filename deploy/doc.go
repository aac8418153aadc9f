// Package deploy holds configurations for existing servers that stand in
// front of tokenflow's services, and the tests that run each one against
// the real auth server and notes service: apache/httpd.conf (Apache httpd
// with mod_oauth2) verifies the same access tokens as `tokenflow gateway`.
//
// Run them with `go test ./deploy/ -v`. Without apache2 or mod_oauth2 they
// skip and say what to install (`apt-get install -y apache2
// libapache2-mod-oauth2`); with CI=true a missing package fails.
package deploy
