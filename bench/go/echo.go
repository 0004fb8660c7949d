// The echo benchmark (bench/echo.py): a Go net echo server, the twin of
// bench/echo_server.c, and the ONE load client that drives both servers.
//
//	weft-bench-go -bench echo_server [-port 0] [-workers W] [-max-seconds 600]
//	weft-bench-go -bench echo_client -addr 127.0.0.1:PORT -conns C
//	              [-size 64] [-duration 5s] [-warmup 1s]
//
// The server prints "LISTENING port=P workers=W nofile=N" once it listens,
// and serves (one goroutine per connection, 4 KiB reads echoed back) until
// SIGTERM/SIGINT/SIGHUP, end of file on stdin (when stdin is a pipe or a
// socket), or -max-seconds; then it closes the listener and every
// connection, waits for their goroutines and exits 0.
//
// The client dials C connections to addr (64 dials at a time, untimed),
// then every connection does request/response round trips of -size bytes
// (write the message, read until the whole echo is back, compare) for
// -warmup + -duration; round trips that start in the warm-up are not
// counted.  It prints one line:
//
//	RESULT name=echo_client workers=G value=<req/s> unit=req/s ops=<requests>
//	       conns=C p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=..
//	       conn_min=.. conn_max=.. ...
//
// (requests/s over the measured window, latency percentiles of every
// measured round trip from one sorted sample, and the fewest / most round
// trips any one connection made: a starved connection shows as conn_min=0).
// A wrong echo, a connection error or a server that stops answering (10 s
// past the end) makes it exit non-zero with a diagnostic.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	echoPort       = flag.Int("port", 0, "echo_server: port on 127.0.0.1 (0: any free port)")
	echoMaxSeconds = flag.Int("max-seconds", 600, "echo_server: stop after this long regardless")
	echoAddr       = flag.String("addr", "", "echo_client: server address host:port")
	echoConns      = flag.Int("conns", 1000, "echo_client: concurrent connections")
	echoSize       = flag.Int("size", 64, "echo_client: message size in bytes")
	echoDuration   = flag.Duration("duration", 5*time.Second, "echo_client: measured time")
	echoWarmup     = flag.Duration("warmup", time.Second, "echo_client: unmeasured warm-up")
)

// Modes with their own flags and output, dispatched before the benches map.
var echoModes = map[string]func(){
	"echo_server": echoServer,
	"echo_client": echoClient,
}

// raiseNofile raises RLIMIT_NOFILE's soft limit to the hard one (Go 1.19's
// os package does it too; done here so the figure printed is the one in
// force) and returns the soft limit.
func raiseNofile() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	return rl.Cur
}

func stdinIsPipe() bool {
	fi, err := os.Stdin.Stat()
	return err == nil && fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) != 0
}

// ---------------------------------------------------------------------------
// the Go server
// ---------------------------------------------------------------------------

func echoServer() {
	nofile := raiseNofile()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *echoPort))
	if err != nil {
		die("echo_server: %v", err)
	}
	fmt.Printf("LISTENING port=%d workers=%d nofile=%d\n", ln.Addr().(*net.TCPAddr).Port,
		runtime.GOMAXPROCS(0), nofile)
	os.Stdout.Sync()

	stop := make(chan string, 4)
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() { stop <- (<-sigc).String() }()
	if stdinIsPipe() {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			stop <- "end of stdin"
		}()
	}
	time.AfterFunc(time.Duration(*echoMaxSeconds)*time.Second, func() { stop <- "max-seconds" })

	var (
		wg        sync.WaitGroup // accept loop + connection goroutines
		mu        sync.Mutex     // guards live, closing
		live      = map[net.Conn]struct{}{}
		closing   bool
		nconns    int64
		nbytes    int64
		nerrors   int64
		acceptErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		said := false
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return // shutdown
				}
				if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
					errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) {
					if !said && !errors.Is(err, syscall.ECONNABORTED) {
						fmt.Fprintf(os.Stderr, "echo_server: accept: %v (after %d connections); "+
							"backing off\n", err, atomic.LoadInt64(&nconns))
						said = true
					}
					time.Sleep(5 * time.Millisecond)
					continue
				}
				acceptErr = err
				stop <- "accept failed"
				return
			}
			mu.Lock()
			if closing {
				mu.Unlock()
				c.Close()
				return
			}
			live[c] = struct{}{}
			mu.Unlock()
			atomic.AddInt64(&nconns, 1)
			wg.Add(1)
			go func(c net.Conn) { // one goroutine per connection
				defer wg.Done()
				buf := make([]byte, 4096)
				var b int64
				for {
					n, err := c.Read(buf)
					if err != nil {
						if err != io.EOF && !errors.Is(err, net.ErrClosed) &&
							!errors.Is(err, syscall.ECONNRESET) {
							atomic.AddInt64(&nerrors, 1)
						}
						break
					}
					if _, err := c.Write(buf[:n]); err != nil {
						if !errors.Is(err, net.ErrClosed) && !errors.Is(err, syscall.EPIPE) &&
							!errors.Is(err, syscall.ECONNRESET) {
							atomic.AddInt64(&nerrors, 1)
						}
						break
					}
					b += int64(n)
				}
				atomic.AddInt64(&nbytes, b)
				mu.Lock()
				delete(live, c)
				mu.Unlock()
				c.Close()
			}(c)
		}
	}()

	why := <-stop
	t0 := time.Now()
	ln.Close()
	mu.Lock()
	closing = true
	for c := range live {
		c.Close() // wakes its goroutine's Read/Write
	}
	mu.Unlock()
	wg.Wait()
	fmt.Fprintf(os.Stderr, "echo_server: go, stopped by %s: %d connections, %d bytes echoed, "+
		"%d connection errors; shutdown took %.1f ms\n", why, nconns, nbytes, nerrors,
		float64(time.Since(t0).Microseconds())/1000)
	if acceptErr != nil {
		die("echo_server: accept: %v", acceptErr)
	}
	if nerrors != 0 {
		die("echo_server: %d connections ended in an unexpected error", nerrors)
	}
}

// ---------------------------------------------------------------------------
// the load client
// ---------------------------------------------------------------------------

func echoClient() {
	if *echoAddr == "" || *echoConns < 1 || *echoSize < 12 || *echoDuration <= 0 || *echoWarmup < 0 {
		die("echo_client: want -addr host:port, -conns >= 1, -size >= 12, -duration > 0, -warmup >= 0")
	}
	nofile := raiseNofile()
	requested := *echoConns
	conns := requested
	// Every connection is a descriptor; keep 64 for the runtime and stdio.
	if nofile > 0 && uint64(conns)+64 > nofile {
		conns = int(nofile) - 64
		if conns < 1 {
			die("echo_client: RLIMIT_NOFILE %d is too small", nofile)
		}
		fmt.Fprintf(os.Stderr, "echo_client: NOTE: %d connections requested, RLIMIT_NOFILE is %d: "+
			"using %d\n", requested, nofile, conns)
	}
	size := *echoSize

	// Dial every connection first (untimed), 64 at a time so that the
	// listen backlog never overflows (SYN retries would cost seconds).
	td := time.Now()
	cs := make([]net.Conn, conns)
	sem := make(chan struct{}, 64)
	var dialErr error
	var dialOnce sync.Once
	var dwg sync.WaitGroup
	for i := range cs {
		sem <- struct{}{}
		dwg.Add(1)
		go func(i int) {
			defer func() { <-sem; dwg.Done() }()
			c, err := net.DialTimeout("tcp", *echoAddr, 10*time.Second)
			if err != nil {
				dialOnce.Do(func() { dialErr = fmt.Errorf("connection %d: %v", i, err) })
				return
			}
			cs[i] = c
		}(i)
	}
	dwg.Wait()
	if dialErr != nil {
		die("echo_client: dial %s: %v", *echoAddr, dialErr)
	}
	dialS := time.Since(td).Seconds()

	start := make(chan struct{})
	lats := make([][]int64, conns)
	var failed int64
	var firstErr error
	var errOnce sync.Once
	fail := func(i int, what string, err error) {
		atomic.AddInt64(&failed, 1)
		errOnce.Do(func() { firstErr = fmt.Errorf("connection %d: %s: %v", i, what, err) })
	}
	var wg sync.WaitGroup
	var measureStart, end time.Time
	for i, c := range cs {
		wg.Add(1)
		go func(i int, c net.Conn) {
			defer wg.Done()
			defer c.Close()
			msg := make([]byte, size)
			resp := make([]byte, size)
			for k := 12; k < size; k++ {
				msg[k] = byte('a' + (i+k)%26)
			}
			binary.LittleEndian.PutUint32(msg[8:], uint32(i))
			lat := make([]int64, 0, 256)
			<-start
			// A server that stops answering fails the run instead of hanging it.
			c.SetDeadline(end.Add(10 * time.Second))
			for seq := uint64(0); ; seq++ {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				binary.LittleEndian.PutUint64(msg, seq)
				if _, err := c.Write(msg); err != nil {
					fail(i, "write", err)
					break
				}
				if _, err := io.ReadFull(c, resp); err != nil {
					fail(i, "read", err)
					break
				}
				t1 := time.Now()
				if !bytes.Equal(msg, resp) {
					fail(i, "echo", fmt.Errorf("got %q, want %q", resp, msg))
					break
				}
				if !t0.Before(measureStart) {
					lat = append(lat, int64(t1.Sub(t0)))
				}
			}
			lats[i] = lat
		}(i, c)
	}
	measureStart = time.Now().Add(*echoWarmup)
	end = measureStart.Add(*echoDuration)
	close(start)
	wg.Wait()
	window := end.Sub(measureStart).Seconds()
	if failed != 0 {
		die("echo_client: %d of %d connections failed; first: %v", failed, conns, firstErr)
	}

	total := 0
	cmin, cmax := math.MaxInt, 0
	for _, l := range lats {
		total += len(l)
		if len(l) < cmin {
			cmin = len(l)
		}
		if len(l) > cmax {
			cmax = len(l)
		}
	}
	if total == 0 {
		die("echo_client: no round trip completed in the measured window")
	}
	all := make([]int64, 0, total)
	for _, l := range lats {
		all = append(all, l...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	pct := func(p float64) float64 {
		k := int(math.Ceil(p*float64(total))) - 1
		if k < 0 {
			k = 0
		}
		return float64(all[k]) / 1e3
	}
	fmt.Printf("RESULT name=echo_client workers=%d value=%.1f unit=req/s ops=%d conns=%d "+
		"conns_requested=%d size=%d duration_s=%.3f warmup_s=%.3f dial_s=%.3f "+
		"p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f conn_min=%d conn_max=%d "+
		"nofile=%d\n",
		runtime.GOMAXPROCS(0), float64(total)/window, total, conns, requested, size, window,
		echoWarmup.Seconds(), dialS, pct(0.50), pct(0.90), pct(0.99), pct(0.999),
		float64(all[total-1])/1e3, cmin, cmax, nofile)
}
