//go:build !go1.24

package sondetest

import (
	"errors"
	"net/http"
)

func enableH2C(*http.Server) error {
	return errors.New("-h2c needs Go 1.24 or newer (http.Server.Protocols)")
}
