// chi is a go-chi/chi (v5, Debian's golang-github-go-chi-chi-dev) test server:
// route patterns, a sub-router and a catch-all must show up as Sonde's "route".
// Like nethttp, it logs its own measurement of every request to -log.
package main

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi"
	"sondetest"
)

func main() {
	r := chi.NewRouter()
	r.Get("/hello", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello\n")) })
	r.Get("/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "user %s\n", chi.URLParam(r, "id"))
	})
	r.Post("/users/{id}/orders", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	r.Get("/files/*", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "file %s\n", chi.URLParam(r, "*"))
	})
	r.Get("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(chi.URLParam(r, "code"))
		if err != nil || code < 100 || code > 599 {
			code = 400
		}
		w.WriteHeader(code)
	})
	r.Route("/api/v1", func(api chi.Router) {
		api.Get("/items/{item}", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "item %s\n", chi.URLParam(r, "item"))
		})
	})
	sondetest.Main("127.0.0.1:18082", r)
}
