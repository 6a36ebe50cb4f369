// gin is a Gin test server for Sonde's integration tests: route templates
// (/users/:id, /files/*path) must show up as Sonde's "route". Like the
// nethttp server, it logs its own measurement of every request to -log.
package main

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"sondetest"
)

func main() {
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

	sondetest.Main("127.0.0.1:18081", r)
}
