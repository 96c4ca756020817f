package querylimit

// TextDepth estimates, in one pass over q, how deep
// the expression tree of q would be, and stops counting once the estimate
// passes limit (it then returns a value above limit).
//
// Each open bracket of ( and [ counts one level, and so does each operator
// (+ - * / % ^, comparisons, and, or, unless, atan2) written at one bracket
// level, because operators chain: a+b+c parses as (a+b)+c. A comma starts a
// new argument, whose operators do not add to its siblings'. String
// literals, comments and label matchers inside {} count nothing. The
// estimate stays within a few levels of the depth of the parsed tree (a
// selector under a function adds a level the text does not show; a number
// such as 0x1e-5 counts an operator it does not have), which is why it
// shares its limit with the exact check on the tree, CheckDepth. Its purpose
// is to keep the parser from ever seeing input whose depth is in the
// thousands. It allocates only for more than 64 open brackets.
func TextDepth(q string, limit int) int { return textDepth(q, limit, true) }

// QueryDepth is TextDepth for an expression that is evaluated, not
// printed: the set operators or, and, unless count nothing. A chain of
// them (a or b or c …, as dashboards expand a multi-value variable)
// parses in time linear in its length, which MaxLength bounds (10,000
// terms of "up or" in 0.19 s); only the pretty-printer is super-linear in
// it. Arithmetic and comparison chains still count: the parser folds and
// checks them at a cost that grows faster (20,000 terms of "1+" took 2 s).
func QueryDepth(q string, limit int) int { return textDepth(q, limit, false) }

func textDepth(q string, limit int, setOps bool) int {
	var (
		levels   [64]int // operators per bracket level; overflow holds deeper ones
		depth    = 0     // open brackets
		sum      = 0     // operators over the open levels, those beyond len(levels) included
		deepest  = 0
		overflow []int
	)
	at := func(i int) *int {
		if i < len(levels) {
			return &levels[i]
		}
		return &overflow[i-len(levels)]
	}
	note := func() bool {
		if d := depth + 1 + sum; d > deepest {
			deepest = d
		}
		return deepest > limit
	}
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(q, i)
		case c == '#':
			i = skipLine(q, i)
		case c == '{':
			i = skipBraces(q, i)
		case c == '(':
			depth++
			if depth >= len(levels) && depth-len(levels) >= len(overflow) {
				overflow = append(overflow, 0)
			}
			*at(depth) = 0
			if note() {
				return deepest
			}
		case c == ')':
			if depth > 0 {
				sum -= *at(depth)
				depth--
			}
		case c == ',':
			sum -= *at(depth)
			*at(depth) = 0
		case c == '[' || isOperator(c):
			if c == '=' || c == '!' || c == '<' || c == '>' {
				// ==, !=, <=, >= and the trim operators </ and >/ are one
				// operator.
				if i+1 < len(q) && (q[i+1] == '=' || q[i+1] == '/') {
					i++
				}
			}
			*at(depth)++
			sum++
			if note() {
				return deepest
			}
		case isNameStart(c):
			j := i + 1
			for j < len(q) && isNameChar(q[j]) {
				j++
			}
			if w := isWordOperator(q[i:j]); w == wordArith || w == wordSet && setOps {
				*at(depth)++
				sum++
				if note() {
					return deepest
				}
			}
			i = j - 1
		case isDigit(c) || c == '.':
			i = skipNumber(q, i)
		}
	}
	note()
	return deepest
}

func isOperator(c byte) bool {
	switch c {
	case '+', '-', '*', '/', '%', '^', '=', '!', '<', '>':
		return true
	}
	return false
}

func isNameStart(c byte) bool {
	return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func isNameChar(c byte) bool { return isNameStart(c) || isDigit(c) || c == '.' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isWordOperator reports whether w is a binary operator written as a word,
// case-insensitively as the PromQL lexer reads keywords.
// Kinds of word operators.
const (
	wordNone  = iota
	wordSet   // or, and, unless
	wordArith // atan2
)

func isWordOperator(w string) int {
	switch len(w) {
	case 2, 3, 5, 6:
	default:
		return wordNone
	}
	var b [6]byte
	for i := range len(w) {
		b[i] = w[i] | 0x20
	}
	switch string(b[:len(w)]) {
	case "or", "and", "unless":
		return wordSet
	case "atan2":
		return wordArith
	}
	return wordNone
}

// skipString returns the index of the quote closing the string literal
// opened at q[i], or the last index when it is not closed. Backslash escapes
// apply in "..." and '...', not in `...`.
func skipString(q string, i int) int {
	quote := q[i]
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '\\':
			if quote != '`' {
				j++
			}
		case quote:
			return j
		}
	}
	return len(q) - 1
}

// skipLine returns the index of the newline ending the comment at q[i].
func skipLine(q string, i int) int {
	for j := i + 1; j < len(q); j++ {
		if q[j] == '\n' {
			return j
		}
	}
	return len(q) - 1
}

// skipBraces returns the index of the } closing the label matchers opened
// at q[i]; braces do not nest.
func skipBraces(q string, i int) int {
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '"', '\'', '`':
			j = skipString(q, j)
		case '#':
			j = skipLine(q, j)
		case '}':
			return j
		}
	}
	return len(q) - 1
}

// skipNumber returns the last index of the number or duration starting at
// q[i], an exponent's sign included (1e-5).
func skipNumber(q string, i int) int {
	j := i + 1
	for j < len(q) {
		c := q[j]
		switch {
		case isNameChar(c):
			j++
		case (c == '+' || c == '-') && (q[j-1]|0x20 == 'e') && j+1 < len(q) && isDigit(q[j+1]) &&
			!(len(q) > i+1 && q[i] == '0' && q[i+1]|0x20 == 'x'):
			j++
		default:
			return j - 1
		}
	}
	return j - 1
}
