// estargz-producer converts one layer blob (tar, tar+gzip or tar+zstd) into an eStargz blob with the reference
// implementation (github.com/containerd/stargz-snapshotter/estargz) and prints a JSON line with the blob's digest,
// size, TOC digest and diff ID. Accelerator's tests build it with Debian's packaged sources (GO111MODULE=off) and use
// its output as eStargz produced independently of our reader.
//
// Usage: estargz-producer [-chunk-size N] [-prioritize path,path] INPUT OUTPUT
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/containerd/stargz-snapshotter/estargz"
)

type result struct {
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	TocDigest string `json:"tocDigest"`
	DiffID    string `json:"diffId"`
}

func main() {
	chunkSize := flag.Int("chunk-size", 0, "chunk size in bytes (0: the library's default)")
	prioritize := flag.String("prioritize", "", "comma-separated paths placed before the prefetch landmark (paths the layer lacks are ignored)")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: estargz-producer [-chunk-size N] [-prioritize a,b] INPUT OUTPUT")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Arg(1), *chunkSize, *prioritize); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(input, output string, chunkSize int, prioritize string) error {
	in, err := os.Open(input)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	var options []estargz.Option
	if chunkSize > 0 {
		options = append(options, estargz.WithChunkSize(chunkSize))
	}
	if prioritize != "" {
		var missed []string
		options = append(options, estargz.WithPrioritizedFiles(strings.Split(prioritize, ",")), estargz.WithAllowPrioritizeNotFound(&missed))
	}
	blob, err := estargz.Build(io.NewSectionReader(in, 0, info.Size()), options...)
	if err != nil {
		return err
	}
	defer blob.Close()
	out, err := os.Create(output)
	if err != nil {
		return err
	}
	defer out.Close()
	hash := sha256.New()
	size, err := io.Copy(io.MultiWriter(out, hash), blob)
	if err != nil {
		return err
	}
	if err := blob.Close(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(result{
		Digest:    "sha256:" + hex.EncodeToString(hash.Sum(nil)),
		Size:      size,
		TocDigest: blob.TOCDigest().String(),
		DiffID:    blob.DiffID().String(),
	})
}
