// Command evtxdump prints every value firebreak's .evtx reader yields, one
// "path=value" line each and "--" after each record, for comparing the
// reader with another one (bench/evtx.sh compares it with python-evtx).
// Not part of the product.
//
//	go run ./bench/evtxdump FILE.evtx
package main

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/ingest/evtx"
)

// esc keeps a value on one line.
var esc = strings.NewReplacer("\\", `\\`, "\n", `\n`, "\r", `\r`, "\t", `\t`)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: evtxdump FILE.evtx")
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r, err := evtx.NewReader(bufio.NewReader(f), evtx.Options{})
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for {
		_, err := r.Next(func(p, v []byte) { fmt.Fprintf(w, "%s=%s\n", p, esc.Replace(string(v))) })
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Fprintln(w, "--")
	}
	for _, p := range r.Problems() {
		fmt.Fprintf(os.Stderr, "%s: %s\n", os.Args[1], p)
	}
}
