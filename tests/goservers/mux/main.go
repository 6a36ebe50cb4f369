// mux is the net/http test server with Go 1.22 ServeMux patterns (methods,
// wildcards, {$}, {path...}): Sonde reports the pattern that matched as the
// route. GOPATH-mode builds get Go 1.20's GODEBUG defaults, in which ServeMux
// ignores patterns (httpmuxgo121=1), so this program asks for the current
// behaviour below. Needs Go 1.22 or newer. Like nethttp, it logs its own
// measurement of every request to the file named by -log.

//go:debug httpmuxgo121=0
package main

import (
	"fmt"
	"net/http"
	"strconv"

	"sondetest"
)

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("home\n"))
	})
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "user %s\n", r.PathValue("id"))
	})
	mux.HandleFunc("POST /users/{id}/orders", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /files/{path...}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "file %s\n", r.PathValue("path"))
	})
	mux.HandleFunc("GET /status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.PathValue("code"))
		if err != nil || code < 100 || code > 599 {
			code = 400
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello\n"))
	})

	sondetest.Main("127.0.0.1:18090", mux)
}
