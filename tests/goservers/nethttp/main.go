// nethttp is a plain net/http test server for Sonde's integration tests.
// It logs its own measurement of every request (one line per request to the
// file named by -log) so tests can compare Sonde's durations with the
// server's view of the same request.
package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sondetest"
)

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello\n"))
	})
	mux.HandleFunc("/users/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "user %s\n", strings.TrimPrefix(r.URL.Path, "/users/"))
	})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		if err != nil || code < 100 || code > 599 {
			code = 400
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		w.Write([]byte("slept\n"))
	})
	mux.HandleFunc("/silent/", func(w http.ResponseWriter, r *http.Request) {})
	// A handler that panics: net/http recovers, logs it and closes the connection,
	// and the request never reaches the code after ServeHTTP.
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) { panic("test panic") })

	sondetest.Main("127.0.0.1:18080", mux)
}
