// Command sigma-compat loads a Sigma rule corpus (by default the SigmaHQ
// corpus in ../shared/data/sigmahq) with firebreak's rule parser and prints
// how much of it loads, why the rest is rejected, and how much of what loads
// can match: every field it uses is produced by a source firebreak parses,
// for its logsource.
//
//	go run ./bench/sigma-compat [-v] [PATH...]
package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/detect"
)

func main() {
	verbose := flag.Bool("v", false, "list every rejected file with its error")
	top := flag.Int("top", 15, "reasons and fields to list")
	flag.Parse()
	paths := flag.Args()
	if len(paths) == 0 {
		paths = []string{"../shared/data/sigmahq/rules", "../shared/data/sigmahq/rules-threat-hunting",
			"../shared/data/sigmahq/rules-emerging-threats", "../shared/data/sigmahq/rules-placeholder"}
	}
	var c corpus
	for _, p := range paths {
		if err := c.walk(p, *verbose); err != nil {
			fmt.Fprintln(os.Stderr, "sigma-compat:", err)
			os.Exit(1)
		}
	}
	c.print(*top)
}

type corpus struct {
	files, docs, loaded, rejected, matchable int
	rejectReasons                            map[string]int
	unmatchable                              map[string]int // why a loaded rule cannot match
	unmapped                                 map[string]int // logsource + field
	bySource                                 map[string][2]int
	authWin                                  [2]int // Windows Security rules on the authentication family: loaded, matchable
}

// authFamily matches the event ids of the Windows authentication family firebreak parses.
var authFamily = regexp.MustCompile(`\b(4624|4625|4634|4647|4648|4672|4740|4767|4768|4769|4771|4776)\b`)

var quoted = regexp.MustCompile(`"[^"]*"|'[^']*'`)

func (c *corpus) walk(root string, verbose bool) error {
	if c.rejectReasons == nil {
		c.rejectReasons, c.unmatchable, c.unmapped, c.bySource = map[string]int{}, map[string]int{}, map[string]int{}, map[string][2]int{}
	}
	srcs := detect.Sources()
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || (filepath.Ext(p) != ".yml" && filepath.Ext(p) != ".yaml") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		c.files++
		c.docs += max(1, strings.Count("\n"+string(data), "\n---"))
		rules, err := detect.ParseRules(p, data)
		if err != nil {
			c.rejected++
			c.rejectReasons[reason(err)]++
			if verbose {
				fmt.Println("rejected", err)
			}
			return nil
		}
		for _, r := range rules {
			c.loaded++
			if r.IsCorrelation() {
				c.unmatchable["correlation (matchable through the rules it counts)"]++
				continue
			}
			ws := detect.CheckRule(r, srcs, nil)
			src := sourceOf(r, srcs)
			st := c.bySource[src]
			st[0]++
			if len(ws) == 0 {
				c.matchable++
				st[1]++
			}
			c.bySource[src] = st
			if src == "windows-security" && authFamily.Match(data) {
				c.authWin[0]++
				if len(ws) == 0 {
					c.authWin[1]++
				}
			}
			why := map[string]bool{}
			for _, w := range ws {
				switch {
				case w.Field != "":
					why["a field no source produces"] = true
					c.unmapped[r.LogSource.String()+" "+w.Field]++
				case strings.Contains(w.Msg, "placeholder"):
					why["a placeholder without a value"] = true
				default:
					why["a logsource firebreak does not parse"] = true
				}
			}
			for k := range why {
				c.unmatchable[k]++
			}
		}
		return nil
	})
}

// sourceOf names the built-in source a rule applies to, or "none".
func sourceOf(r *detect.Rule, srcs []detect.Source) string {
	var names []string
	for _, s := range srcs {
		if s.Selects(r.LogSource) {
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	if len(names) > 1 {
		return "several"
	}
	return names[0]
}

// reason reduces a load error to its kind: the unsupported feature, or the
// problem with quoted specifics elided.
func reason(err error) string {
	var ue *detect.UnsupportedError
	if errors.As(err, &ue) {
		return "unsupported: " + quoted.ReplaceAllString(ue.Feature, "…")
	}
	var re *detect.RuleError
	if errors.As(err, &re) {
		msg := re.Err.Error()
		if i := strings.LastIndex(msg, ": "); i > 0 && strings.HasPrefix(msg, "detection.") {
			msg = "detection: " + msg[i+2:]
		}
		return "invalid: " + quoted.ReplaceAllString(msg, "…")
	}
	return "invalid: " + err.Error()
}

func (c *corpus) print(top int) {
	pct := func(n, of int) string { return fmt.Sprintf("%d (%.1f%%)", n, 100*float64(n)/float64(max(of, 1))) }
	fmt.Printf("files %d, rule documents %d\n", c.files, c.docs)
	fmt.Printf("loaded    %s of the files\n", pct(c.files-c.rejected, c.files))
	fmt.Printf("rejected  %s\n", pct(c.rejected, c.files))
	for _, kv := range sorted(c.rejectReasons, top) {
		fmt.Printf("  %5d  %s\n", kv.n, kv.k)
	}
	fmt.Printf("matchable %s of the loaded rules (every field produced by a source firebreak parses, for the rule's logsource)\n", pct(c.matchable, c.loaded))
	fmt.Println("not matchable because of")
	for _, kv := range sorted(c.unmatchable, top) {
		fmt.Printf("  %5d  %s\n", kv.n, kv.k)
	}
	fmt.Println("per source (rules selecting it: loaded / matchable)")
	for _, k := range slices.Sorted(maps.Keys(c.bySource)) {
		if k == "none" {
			continue
		}
		fmt.Printf("  %-18s %5d / %d\n", k, c.bySource[k][0], c.bySource[k][1])
	}
	fmt.Printf("  of which Windows Security rules on the authentication family (4624, 4625, 4648, 4768, 4771, 4776, …): %d / %d\n", c.authWin[0], c.authWin[1])
	fmt.Println("fields most often missing, by logsource")
	for _, kv := range sorted(c.unmapped, top) {
		fmt.Printf("  %5d  %s\n", kv.n, kv.k)
	}
}

type kv struct {
	k string
	n int
}

func sorted(m map[string]int, top int) []kv {
	var out []kv
	for k, n := range m {
		out = append(out, kv{k, n})
	}
	slices.SortFunc(out, func(a, b kv) int { return cmp.Or(b.n-a.n, strings.Compare(a.k, b.k)) })
	if len(out) > top {
		out = out[:top]
	}
	return out
}
