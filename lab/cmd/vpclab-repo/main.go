// Command vpclab-repo serves the lab's Debian package repository over HTTP
// inside the lab's emulated internet (the lab starts it in its "repo"
// namespace), so lab hosts install packages without leaving the lab.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: vpclab-repo DIR ADDRESS")
		os.Exit(2)
	}
	fs := http.FileServer(http.Dir(os.Args[1]))
	log.Printf("serving %s on %s", os.Args[1], os.Args[2])
	log.Fatal(http.ListenAndServe(os.Args[2], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s", r.RemoteAddr, r.URL.Path)
		fs.ServeHTTP(w, r)
	})))
}
