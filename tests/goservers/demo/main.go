// demo is the bundled service `make demo` traces: a small Gin "shop" whose
// routes take different amounts of time, so the summary has something to show.
package main

import (
	"flag"
	"math/rand"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address")
	flag.Parse()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/", func(c *gin.Context) { c.String(200, "sonde demo shop\n") })
	r.GET("/products", func(c *gin.Context) {
		time.Sleep(time.Duration(1+rand.Intn(3)) * time.Millisecond)
		c.JSON(200, gin.H{"products": []string{"probe", "tracepoint", "ringbuf"}})
	})
	r.GET("/products/:id", func(c *gin.Context) {
		id, err := strconv.Atoi(c.Param("id"))
		if err != nil || id > 100 {
			c.JSON(404, gin.H{"error": "no such product"})
			return
		}
		time.Sleep(time.Duration(rand.Intn(500)) * time.Microsecond)
		c.JSON(200, gin.H{"id": id})
	})
	r.POST("/cart/:id/checkout", func(c *gin.Context) {
		time.Sleep(time.Duration(5+rand.Intn(20)) * time.Millisecond)
		if rand.Intn(20) == 0 {
			c.JSON(503, gin.H{"error": "payment backend unavailable"})
			return
		}
		c.JSON(201, gin.H{"order": rand.Int63()})
	})
	r.Run(*addr)
}
