// grpc is a grpc-go test server (Debian's golang-google-grpc-dev): the
// standard health service, where Check answers OK for "" and "sonde.Test" and
// NOT_FOUND for any other service. A unary interceptor measures each RPC's
// handler and logs it to -log at shutdown (package sondetest), with the
// full method as the path and the gRPC status code as the status.
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"sondetest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address (gRPC over cleartext HTTP/2)")
	logPath := flag.String("log", "", "file for the server's own per-RPC measurements")
	flag.Parse()
	var l *sondetest.Log
	if *logPath != "" {
		l = sondetest.NewLog()
	}
	measure := func(ctx context.Context, req interface{}, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (interface{}, error) {
		start := sondetest.Now()
		resp, err := handler(ctx, req)
		l.Add(info.FullMethod, int(status.Code(err)), start, sondetest.Now())
		return resp, err
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(measure))
	hs := health.NewServer() // "" is SERVING
	hs.SetServingStatus("sonde.Test", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		srv.GracefulStop() // every RPC in flight answered: the log is complete
	}()
	if err := srv.Serve(lis); err != nil {
		log.Fatal(err)
	}
	if l != nil {
		if err := l.Write(*logPath); err != nil {
			log.Fatal(err)
		}
	}
}
