// echo is a labstack/echo (v4, Debian's golang-github-labstack-echo-dev) test
// server: route paths, a group and a catch-all must show up as Sonde's
// "route". Like nethttp, it logs its own measurement of every request to -log.
package main

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo"
	"sondetest"
)

func main() {
	e := echo.New()
	e.HideBanner = true
	e.GET("/hello", func(c echo.Context) error { return c.String(http.StatusOK, "hello\n") })
	e.GET("/users/:id", func(c echo.Context) error { return c.String(http.StatusOK, "user "+c.Param("id")+"\n") })
	e.POST("/users/:id/orders", func(c echo.Context) error { return c.NoContent(http.StatusCreated) })
	e.GET("/files/*", func(c echo.Context) error { return c.String(http.StatusOK, "file "+c.Param("*")+"\n") })
	e.GET("/status/:code", func(c echo.Context) error {
		code, err := strconv.Atoi(c.Param("code"))
		if err != nil || code < 100 || code > 599 {
			code = 400
		}
		return c.NoContent(code)
	})
	api := e.Group("/api/v1")
	api.GET("/items/:item", func(c echo.Context) error { return c.String(http.StatusOK, "item "+c.Param("item")+"\n") })
	sondetest.Main("127.0.0.1:18084", e)
}
