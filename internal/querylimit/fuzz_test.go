package querylimit

import "testing"

// FuzzTextDepth checks that the estimate on the raw text bounds the depth of
// whatever the parser accepts, so that CheckText keeps deep trees away from
// the parser and from everything that walks the tree afterwards.
func FuzzTextDepth(f *testing.F) {
	for _, q := range realistic {
		f.Add(q)
	}
	f.Add("((((((1))))))")
	f.Add("-(-(-1))")
	f.Add("x[1h:1m] offset -5m")
	f.Fuzz(func(t *testing.T, q string) {
		text, brackets := TextDepth(q, 1<<20), QueryDepth(q, 1<<20)
		e, err := testParser.ParseExpr(q)
		if err != nil {
			return
		}
		if tree := treeDepth(e, 1, 1<<20, true); tree > 2*text+2 {
			t.Fatalf("tree depth %d, text depth %d: the format check would let it through", tree, text)
		}
		if tree := treeDepth(e, 1, 1<<20, false); tree > 2*brackets+2 {
			t.Fatalf("tree depth without chains %d, query text depth %d: the text check would let it through", tree, brackets)
		}
	})
}
