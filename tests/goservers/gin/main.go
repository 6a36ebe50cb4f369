// gin is a Gin test server for Sonde's integration tests: route templates
// (/users/:id, /files/*path) must show up as Sonde's "route". Like the
// nethttp server, it logs its own measurement of every request to -log.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
)

type measured struct {
	path   string
	status int
	dur    time.Duration
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address")
	logPath := flag.String("log", "", "file for the server's own per-request measurements")
	flag.Parse()

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/hello", func(c *gin.Context) { c.String(200, "hello\n") })
	r.GET("/users/:id", func(c *gin.Context) { c.String(200, "user %s\n", c.Param("id")) })
	r.POST("/users/:id/orders", func(c *gin.Context) { c.Status(201) })
	r.GET("/files/*path", func(c *gin.Context) { c.String(200, "file %s\n", c.Param("path")) })
	r.GET("/status/:code", func(c *gin.Context) {
		code, err := strconv.Atoi(c.Param("code"))
		if err != nil || code < 100 || code > 599 {
			code = 400
		}
		c.Status(code)
	})
	r.GET("/sleep/:ms", func(c *gin.Context) {
		ms, _ := strconv.Atoi(c.Param("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		c.String(200, "slept\n")
	})

	var out chan measured
	done := make(chan struct{})
	if *logPath != "" {
		f, err := os.Create(*logPath)
		if err != nil {
			log.Fatal(err)
		}
		out = make(chan measured, 65536)
		go func() {
			bw := bufio.NewWriter(f)
			for m := range out {
				fmt.Fprintf(bw, "%s %d %d\n", m.path, m.status, m.dur.Nanoseconds())
			}
			bw.Flush()
			f.Close()
			close(done)
		}()
	}

	handler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		t0 := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		r.ServeHTTP(rec, req)
		d := time.Since(t0)
		if out != nil {
			out <- measured{req.URL.Path, rec.status, d}
		}
	})
	srv := &http.Server{Addr: *addr, Handler: handler}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
	if out != nil {
		close(out)
		<-done
	}
}
