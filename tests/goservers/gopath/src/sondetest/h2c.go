//go:build go1.24

package sondetest

import "net/http"

// enableH2C serves unencrypted HTTP/2 (prior knowledge) beside HTTP/1:
// net/http's own h2c, Server.Protocols (Go 1.24+).
func enableH2C(srv *http.Server) error {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Protocols = &p
	return nil
}
