// Command weft-bench-go holds the Go twins of weft's benchmarks (bench/*.c).
//
// Each twin does exactly the work of its C counterpart — same tasks, same
// channels, same capacities, same loop — so the printed figures can be
// compared one to one.  Usage:
//
//	weft-bench-go -bench pingpong -n 200000 -workers 2
//
// and it prints one line:
//
//	RESULT name=pingpong workers=2 value=123.4 unit=ns/op ops=200000
//
// GOMAXPROCS is set from -workers (0: leave Go's default).
//
// The echo benchmark's server and load client are modes of this binary too
// (-bench echo_server, -bench echo_client), with flags and output of their
// own: see echo.go.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type bench struct {
	defN int64
	unit string
	run  func(n int64) (value float64, ops int64)
}

var benches = map[string]bench{
	"pingpong":        {500000, "ns/op", pingpong},
	"spsc":            {5000000, "ns/op", spsc},
	"mpmc":            {2000000, "ns/op", mpmc},
	"mpmc_unbuf":      {2000000, "ns/op", mpmcUnbuf},
	"select_block2":   {1000000, "ns/op", selectBlock2},
	"select_block4":   {1000000, "ns/op", selectBlock4},
	"select2":         {2000000, "ns/op", select2},
	"select4":         {2000000, "ns/op", select4},
	"select_default":  {5000000, "ns/op", selectDefault},
	"ring":            {1000000, "ns/op", ring},
	"skynet":          {1000000, "ms", skynet},
	"yield":           {1000000, "ns/op", yield},
	"spawn":           {1000000, "ns/op", spawn},
	"memtask":         {1000000, "bytes/task", memtask},
	"cancel_fanout":   {100000, "ms", cancelFanout},
	"mutex":           {30000000, "ns/op", mutexUncontended},
	"mutex_contended": {10000000, "ns/op", mutexContended},
	"wg":              {20000000, "ns/op", waitGroup},
}

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "weft-bench-go: "+format+"\n", args...)
	os.Exit(2)
}

func nsPer(t0 time.Time, ops int64) float64 {
	return float64(time.Since(t0).Nanoseconds()) / float64(ops)
}

func main() {
	name := flag.String("bench", "", "benchmark to run (-list to see them)")
	n := flag.Int64("n", 0, "iterations (0: the benchmark's default)")
	workers := flag.Int("workers", 0, "GOMAXPROCS (0: Go's default)")
	list := flag.Bool("list", false, "list the benchmarks")
	flag.Parse()
	if *list {
		names := make([]string, 0, len(benches))
		for k := range benches {
			names = append(names, k)
		}
		for k := range echoModes {
			names = append(names, k)
		}
		sort.Strings(names)
		fmt.Println(strings.Join(names, "\n"))
		return
	}
	if mode, ok := echoModes[*name]; ok { // go/echo.go: its own flags and output
		if *workers > 0 {
			runtime.GOMAXPROCS(*workers)
		}
		mode()
		return
	}
	b, ok := benches[*name]
	if !ok {
		die("unknown benchmark %q (try -list)", *name)
	}
	if *workers > 0 {
		runtime.GOMAXPROCS(*workers)
	}
	if *n <= 0 {
		*n = b.defN
	}
	value, ops := b.run(*n)
	fmt.Printf("RESULT name=%s workers=%d value=%.3f unit=%s ops=%d\n",
		*name, runtime.GOMAXPROCS(0), value, b.unit, ops)
}

// pingpong: two goroutines, two unbuffered int channels; ns per round trip.
func pingpong(n int64) (float64, int64) {
	ping, pong := make(chan int64), make(chan int64)
	var wg sync.WaitGroup // joins the echo goroutine (untimed), as the C side must
	wg.Add(1)
	go func() {
		for i := int64(0); i < n; i++ {
			v := <-ping
			pong <- v
		}
		wg.Done()
	}()
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		ping <- i
		if v := <-pong; v != i {
			die("pingpong: got %d, want %d", v, i)
		}
	}
	r := nsPer(t0, n)
	wg.Wait()
	return r, n
}

// spsc: one producer, one consumer, buffered cap 1024; ns per message.
func spsc(n int64) (float64, int64) {
	ch := make(chan int64, 1024)
	var wg sync.WaitGroup // joins the producer (untimed), as the C side must
	t0 := time.Now()
	wg.Add(1)
	go func() {
		for i := int64(0); i < n; i++ {
			ch <- i
		}
		close(ch)
		wg.Done()
	}()
	var sum int64
	for v := range ch {
		sum += v
	}
	r := nsPer(t0, n)
	wg.Wait()
	if sum != n*(n-1)/2 {
		die("spsc: sum %d, want %d", sum, n*(n-1)/2)
	}
	return r, n
}

// mpmc: 4 producers x 4 consumers on one channel of cap 128; ns per message.
func mpmc(n int64) (float64, int64)      { return mpmcCap(n, 128, "mpmc") }
func mpmcUnbuf(n int64) (float64, int64) { return mpmcCap(n, 0, "mpmc_unbuf") }

func mpmcCap(n int64, capacity int, name string) (float64, int64) {
	const P, C = 4, 4
	per := n / P
	n = per * P
	ch := make(chan int64, capacity)
	var prod, cons sync.WaitGroup
	sums := make([]int64, C)
	t0 := time.Now()
	for c := 0; c < C; c++ {
		cons.Add(1)
		go func(c int) {
			var s int64
			for v := range ch {
				s += v
			}
			sums[c] = s
			cons.Done()
		}(c)
	}
	for p := 0; p < P; p++ {
		prod.Add(1)
		go func(p int64) {
			for i := int64(0); i < per; i++ {
				ch <- p*per + i
			}
			prod.Done()
		}(int64(p))
	}
	prod.Wait()
	close(ch)
	cons.Wait()
	r := nsPer(t0, n)
	var sum int64
	for _, s := range sums {
		sum += s
	}
	if sum != n*(n-1)/2 {
		die("%s: sum %d, want %d", name, sum, n*(n-1)/2)
	}
	return r, n
}

// selectBlock2/4: K producers each send n/K values on their own unbuffered
// channel; main receives all n through one select over the K channels
// (bench/select_block.c).  Go has no variadic select statement, so the two
// sizes are written out around a shared setup.
func blockProducers(k int, per int64) ([]chan int64, *sync.WaitGroup) {
	ch := make([]chan int64, k)
	wg := new(sync.WaitGroup)
	for i := range ch {
		ch[i] = make(chan int64)
		wg.Add(1)
		go func(c chan int64, first int64) {
			for j := int64(0); j < per; j++ {
				c <- first + j
			}
			wg.Done()
		}(ch[i], int64(i)*per)
	}
	return ch, wg
}

func blockCheck(name string, n, sum int64, wg *sync.WaitGroup) {
	wg.Wait()
	if sum != n*(n-1)/2 {
		die("%s: sum %d, want %d", name, sum, n*(n-1)/2)
	}
}

func selectBlock2(n int64) (float64, int64) {
	per := n / 2
	n = per * 2
	t0 := time.Now()
	ch, wg := blockProducers(2, per)
	var sum int64
	for i := int64(0); i < n; i++ {
		select {
		case v := <-ch[0]:
			sum += v
		case v := <-ch[1]:
			sum += v
		}
	}
	r := nsPer(t0, n)
	blockCheck("select_block2", n, sum, wg)
	return r, n
}

func selectBlock4(n int64) (float64, int64) {
	per := n / 4
	n = per * 4
	t0 := time.Now()
	ch, wg := blockProducers(4, per)
	var sum int64
	for i := int64(0); i < n; i++ {
		select {
		case v := <-ch[0]:
			sum += v
		case v := <-ch[1]:
			sum += v
		case v := <-ch[2]:
			sum += v
		case v := <-ch[3]:
			sum += v
		}
	}
	r := nsPer(t0, n)
	blockCheck("select_block4", n, sum, wg)
	return r, n
}

// selectN: a receive select over N buffered (cap 1) channels that are all
// ready; the chosen channel is refilled at once (a plain send that never
// blocks), so every select sees N ready cases.  ns per select (+ refill).
func selectCheck(name string, counts []int64, n int64) {
	for i, c := range counts {
		if c < n/int64(len(counts))/2 {
			fmt.Fprintf(os.Stderr, "%s: warning: case %d chosen %d of %d times\n", name, i, c, n)
		}
	}
}

func select2(n int64) (float64, int64) {
	c0, c1 := make(chan int64, 1), make(chan int64, 1)
	c0 <- 0
	c1 <- 1
	var counts [2]int64
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		select {
		case v := <-c0:
			counts[0]++
			c0 <- v
		case v := <-c1:
			counts[1]++
			c1 <- v
		}
	}
	r := nsPer(t0, n)
	selectCheck("select2", counts[:], n)
	return r, n
}

func select4(n int64) (float64, int64) {
	c0, c1, c2, c3 := make(chan int64, 1), make(chan int64, 1), make(chan int64, 1), make(chan int64, 1)
	c0 <- 0
	c1 <- 1
	c2 <- 2
	c3 <- 3
	var counts [4]int64
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		select {
		case v := <-c0:
			counts[0]++
			c0 <- v
		case v := <-c1:
			counts[1]++
			c1 <- v
		case v := <-c2:
			counts[2]++
			c2 <- v
		case v := <-c3:
			counts[3]++
			c3 <- v
		}
	}
	r := nsPer(t0, n)
	selectCheck("select4", counts[:], n)
	return r, n
}

// select_default: a receive select over 2 empty unbuffered channels with a
// default branch (two cases, so Go runs a real selectgo and does not lower
// it to a single non-blocking receive); ns per select.
func selectDefault(n int64) (float64, int64) {
	c0, c1 := make(chan int64), make(chan int64)
	var misses int64
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		select {
		case <-c0:
		case <-c1:
		default:
			misses++
		}
	}
	r := nsPer(t0, n)
	if misses != n {
		die("select_default: %d defaults of %d", misses, n)
	}
	return r, n
}

// ring: 1000 goroutines in a ring of unbuffered channels pass a countdown
// token; ns per hop.  The goroutine that receives 0 reports to main.
func ring(n int64) (float64, int64) {
	const N = 1000
	chs := make([]chan int64, N)
	for i := range chs {
		chs[i] = make(chan int64)
	}
	done := make(chan int64)
	var wg sync.WaitGroup
	for k := 0; k < N; k++ {
		wg.Add(1)
		go func(k int) {
			in, out := chs[k], chs[(k+1)%N]
			for {
				t, ok := <-in
				if !ok {
					if k != N-1 {
						close(out)
					}
					break
				}
				if t == 0 {
					done <- int64(k)
				} else {
					out <- t - 1
				}
			}
			wg.Done()
		}(k)
	}
	t0 := time.Now()
	chs[0] <- n
	k := <-done
	r := nsPer(t0, n)
	if k != n%N {
		die("ring: token ended at task %d, want %d", k, n%N)
	}
	close(chs[0])
	wg.Wait()
	return r, n
}

// skynet: the classic — 1M goroutines in a 10-ary tree, each leaf sends its
// ordinal, each inner node sums its children's over its own unbuffered
// channel.  ms total.
func skynetNode(c chan int64, num, size, div int64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int64)
	for i := int64(0); i < div; i++ {
		go skynetNode(rc, num+i*(size/div), size/div, div)
	}
	var sum int64
	for i := int64(0); i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func skynet(n int64) (float64, int64) {
	c := make(chan int64)
	t0 := time.Now()
	go skynetNode(c, 0, n, 10)
	sum := <-c
	r := float64(time.Since(t0).Nanoseconds()) / 1e6
	if sum != n*(n-1)/2 {
		die("skynet: sum %d, want %d (n must be a power of 10)", sum, n*(n-1)/2)
	}
	return r, n
}

// yield: two goroutines each call runtime.Gosched n times; ns per yield.
func yield(n int64) (float64, int64) {
	var wg sync.WaitGroup
	t0 := time.Now()
	for k := 0; k < 2; k++ {
		wg.Add(1)
		go func() {
			for i := int64(0); i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	return nsPer(t0, 2*n), 2 * n
}

// spawn: spawn n goroutines that only call wg.Done; join; ns per spawn.
func spawn(n int64) (float64, int64) {
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
	}
	wg.Wait()
	return nsPer(t0, n), n
}

// procStatusKB reads a "Vm...:" field of /proc/self/status in KiB.
func procStatusKB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		die("open /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, field+":") {
			fs := strings.Fields(line[len(field)+1:])
			v, err := strconv.ParseInt(fs[0], 10, 64)
			if err != nil {
				die("parse %q: %v", line, err)
			}
			return v
		}
	}
	die("no %s in /proc/self/status", field)
	return 0
}

// memtask: n goroutines parked receiving on one channel; (peak RSS -
// baseline RSS) / n.  Then the channel is closed and all are joined.
func memtask(n int64) (float64, int64) {
	ch := make(chan struct{})
	var started, exited sync.WaitGroup
	runtime.GC()
	base := procStatusKB("VmRSS")
	started.Add(int(n))
	exited.Add(int(n))
	for i := int64(0); i < n; i++ {
		go func() {
			started.Done()
			<-ch
			exited.Done()
		}()
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond) // let the last ones park
	rss := procStatusKB("VmRSS")
	hwm := procStatusKB("VmHWM")
	fmt.Fprintf(os.Stderr, "memtask: baseline %d KiB, rss %d KiB, peak %d KiB\n", base, rss, hwm)
	close(ch)
	exited.Wait()
	return float64(hwm-base) * 1024 / float64(n), n
}

// cancel_fanout: n goroutines block in a two-case select on one context's
// done channel (and a channel nobody sends on); time from cancel until a
// WaitGroup sees them all exit, ms.
func cancelFanout(n int64) (float64, int64) {
	ctx, cancel := context.WithCancel(context.Background())
	done := ctx.Done()
	work := make(chan int64)
	var started, exited sync.WaitGroup
	started.Add(int(n))
	exited.Add(int(n))
	for i := int64(0); i < n; i++ {
		go func() {
			started.Done()
			select {
			case <-done:
			case <-work:
			}
			exited.Done()
		}()
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond) // let the last ones park
	t0 := time.Now()
	cancel()
	exited.Wait()
	return float64(time.Since(t0).Nanoseconds()) / 1e6, n
}

var counter int64

// mutex: uncontended Lock/counter++/Unlock in one goroutine; ns per op.
func mutexUncontended(n int64) (float64, int64) {
	var mu sync.Mutex
	counter = 0
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		mu.Lock()
		counter++
		mu.Unlock()
	}
	r := nsPer(t0, n)
	if counter != n {
		die("mutex: counter %d, want %d", counter, n)
	}
	return r, n
}

// mutex_contended: 4 goroutines each do n/4 Lock/counter++/Unlock on one
// mutex; ns per op.
func mutexContended(n int64) (float64, int64) {
	const T = 4
	per := n / T
	n = per * T
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter = 0
	t0 := time.Now()
	for k := 0; k < T; k++ {
		wg.Add(1)
		go func() {
			for i := int64(0); i < per; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	r := nsPer(t0, n)
	if counter != n {
		die("mutex_contended: counter %d, want %d", counter, n)
	}
	return r, n
}

// wg: Add(1); Done(); Wait() in one goroutine; ns per cycle.
func waitGroup(n int64) (float64, int64) {
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		wg.Add(1)
		wg.Done()
		wg.Wait()
	}
	return nsPer(t0, n), n
}
