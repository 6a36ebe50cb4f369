// httprouter is a julienschmidt/httprouter (Debian's
// golang-github-julienschmidt-httprouter-dev, 1.3.0) test server. httprouter
// 1.3 keeps no record of which route matched, so Sonde reports its requests
// by path; Like nethttp, it logs its own measurement of every request to -log.
package main

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/julienschmidt/httprouter"
	"sondetest"
)

func main() {
	r := httprouter.New()
	r.GET("/hello", func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) { w.Write([]byte("hello\n")) })
	r.GET("/users/:id", func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		fmt.Fprintf(w, "user %s\n", ps.ByName("id"))
	})
	r.POST("/users/:id/orders", func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) { w.WriteHeader(http.StatusCreated) })
	r.GET("/files/*path", func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		fmt.Fprintf(w, "file %s\n", ps.ByName("path"))
	})
	r.GET("/status/:code", func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		code, err := strconv.Atoi(ps.ByName("code"))
		if err != nil || code < 100 || code > 599 {
			code = 400
		}
		w.WriteHeader(code)
	})
	r.GET("/api/v1/items/:item", func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		fmt.Fprintf(w, "item %s\n", ps.ByName("item"))
	})
	sondetest.Main("127.0.0.1:18085", r)
}
