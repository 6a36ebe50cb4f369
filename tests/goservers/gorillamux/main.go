// gorillamux is a gorilla/mux (Debian's golang-github-gorilla-mux-dev) test
// server: path templates, a sub-router and a regexp catch-all must show up as
// Sonde's "route". Like nethttp, it logs its own measurement of every request
// to -log.
package main

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"
	"sondetest"
)

func main() {
	r := mux.NewRouter()
	r.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello\n")) }).Methods("GET")
	r.HandleFunc("/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "user %s\n", mux.Vars(r)["id"])
	}).Methods("GET")
	r.HandleFunc("/users/{id}/orders", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) }).Methods("POST")
	r.HandleFunc("/files/{path:.*}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "file %s\n", mux.Vars(r)["path"])
	}).Methods("GET")
	r.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(mux.Vars(r)["code"])
		if err != nil || code < 100 || code > 599 {
			code = 400
		}
		w.WriteHeader(code)
	}).Methods("GET")
	api := r.PathPrefix("/api/v1").Subrouter()
	api.HandleFunc("/items/{item}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "item %s\n", mux.Vars(r)["item"])
	}).Methods("GET")
	sondetest.Main("127.0.0.1:18083", r)
}
