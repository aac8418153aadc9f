package main

// The Korean edition, README.ko.md, translates README.md's prose only: its
// headings follow the same outline and its code blocks are byte-identical,
// so every command a reader runs is the one the English tutorial was checked
// with. These tests keep the two from drifting apart when README.md changes.

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode"
)

const (
	englishReadme = "README.md"
	koreanReadme  = "README.ko.md"
)

// mdHeading is an ATX heading outside code blocks.
type mdHeading struct {
	level int
	text  string
	line  int
}

// mdCodeBlock is a fenced code block, fences and indentation included.
type mdCodeBlock struct {
	text string
	line int
}

// mdDoc is what the structure check compares, with line numbers for the
// failure message.
type mdDoc struct {
	headings []mdHeading
	blocks   []mdCodeBlock
}

// parseMarkdown finds headings and fenced code blocks. A line starting with
// '#' inside a code block is a shell comment, not a heading, so fences are
// tracked first. Fences may be indented (inside list items); a block closes
// at a line of the same fence character, at least as long, and nothing else.
func parseMarkdown(src string) mdDoc {
	var doc mdDoc
	var fence string // the open fence, "" outside code
	var block []string
	blockLine := 0
	for i, line := range strings.Split(src, "\n") {
		lineNo := i + 1
		trimmed := strings.TrimLeft(line, " \t")
		if fence != "" {
			block = append(block, line)
			if run := fenceRun(trimmed); run != "" && run[0] == fence[0] && len(run) >= len(fence) && strings.TrimSpace(trimmed[len(run):]) == "" {
				doc.blocks = append(doc.blocks, mdCodeBlock{text: strings.Join(block, "\n"), line: blockLine})
				fence, block = "", nil
			}
			continue
		}
		if run := fenceRun(trimmed); run != "" {
			fence, block, blockLine = run, []string{line}, lineNo
			continue
		}
		if level, text, ok := atxHeading(line); ok {
			doc.headings = append(doc.headings, mdHeading{level: level, text: text, line: lineNo})
		}
	}
	if fence != "" { // an unclosed fence runs to the end of the document
		doc.blocks = append(doc.blocks, mdCodeBlock{text: strings.Join(block, "\n"), line: blockLine})
	}
	return doc
}

// fenceRun returns the run of three or more backticks or tildes that opens
// s, or "".
func fenceRun(s string) string {
	if s == "" || (s[0] != '`' && s[0] != '~') {
		return ""
	}
	n := 0
	for n < len(s) && s[n] == s[0] {
		n++
	}
	if n < 3 {
		return ""
	}
	return s[:n]
}

// atxHeading reports a line "# text" to "###### text" (up to three spaces
// of indentation, as CommonMark allows).
func atxHeading(line string) (level int, text string, ok bool) {
	s := line
	for i := 0; i < 3 && strings.HasPrefix(s, " "); i++ {
		s = s[1:]
	}
	for level < len(s) && s[level] == '#' {
		level++
	}
	if level == 0 || level > 6 {
		return 0, "", false
	}
	rest := s[level:]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return 0, "", false
	}
	return level, strings.TrimSpace(strings.TrimRight(strings.TrimSpace(rest), "#")), true
}

// compareEditions returns nil when ko keeps en's outline (the same sequence
// of heading levels) and en's code blocks (identical, in order), else an
// error naming the first difference and where it is in each file.
func compareEditions(en, ko mdDoc) error {
	for i := 0; i < len(en.headings) || i < len(ko.headings); i++ {
		switch {
		case i >= len(ko.headings):
			h := en.headings[i]
			return fmt.Errorf("heading %d: %s has %s %q (line %d), %s has no more headings (it has %d, %s has %d)",
				i+1, englishReadme, strings.Repeat("#", h.level), h.text, h.line, koreanReadme, len(ko.headings), englishReadme, len(en.headings))
		case i >= len(en.headings):
			h := ko.headings[i]
			return fmt.Errorf("heading %d: %s has %s %q (line %d), %s has no more headings (it has %d, %s has %d)",
				i+1, koreanReadme, strings.Repeat("#", h.level), h.text, h.line, englishReadme, len(en.headings), koreanReadme, len(ko.headings))
		case en.headings[i].level != ko.headings[i].level:
			e, k := en.headings[i], ko.headings[i]
			// A heading added or removed just before here shows up as the
			// first level that no longer lines up; the counts tell which.
			return fmt.Errorf("heading %d: %s has %s %q (line %d), %s has %s %q (line %d); %s has %d headings, %s has %d",
				i+1, englishReadme, strings.Repeat("#", e.level), e.text, e.line, koreanReadme, strings.Repeat("#", k.level), k.text, k.line,
				englishReadme, len(en.headings), koreanReadme, len(ko.headings))
		}
	}
	for i := 0; i < len(en.blocks) || i < len(ko.blocks); i++ {
		switch {
		case i >= len(ko.blocks):
			return fmt.Errorf("code block %d: %s has one at line %d, %s has no more (it has %d, %s has %d)",
				i+1, englishReadme, en.blocks[i].line, koreanReadme, len(ko.blocks), englishReadme, len(en.blocks))
		case i >= len(en.blocks):
			return fmt.Errorf("code block %d: %s has one at line %d, %s has no more (it has %d, %s has %d)",
				i+1, koreanReadme, ko.blocks[i].line, englishReadme, len(en.blocks), koreanReadme, len(ko.blocks))
		case en.blocks[i].text != ko.blocks[i].text:
			e, k := en.blocks[i], ko.blocks[i]
			el, kl := strings.Split(e.text, "\n"), strings.Split(k.text, "\n")
			j := 0
			for j < len(el) && j < len(kl) && el[j] == kl[j] {
				j++
			}
			return fmt.Errorf("code block %d differs at its line %d: %s line %d is %q, %s line %d is %q (code blocks are copied byte for byte, comments included)",
				i+1, j+1, englishReadme, e.line+j, lineAt(el, j), koreanReadme, k.line+j, lineAt(kl, j))
		}
	}
	return nil
}

func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(end of block)"
}

// headingSlug is the anchor GitHub gives a heading: lower case, letters
// (Hangul included), digits, '-' and '_' kept, spaces turned into '-',
// everything else dropped.
func headingSlug(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// brokenAnchor returns the first "](#anchor)" link of src that names no
// heading of doc, or "".
func brokenAnchor(src string, doc mdDoc) string {
	anchors := map[string]bool{}
	for _, h := range doc.headings {
		slug := headingSlug(h.text)
		for n := 1; anchors[slug]; n++ { // GitHub numbers repeats: x, x-1, x-2
			slug = fmt.Sprintf("%s-%d", headingSlug(h.text), n)
		}
		anchors[slug] = true
	}
	prose := src
	for _, b := range doc.blocks {
		prose = strings.Replace(prose, b.text, "", 1)
	}
	for rest := prose; ; {
		i := strings.Index(rest, "](#")
		if i < 0 {
			return ""
		}
		rest = rest[i+3:]
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return ""
		}
		if anchor := rest[:end]; !anchors[anchor] {
			return anchor
		}
	}
}

func readReadme(t *testing.T, name string) (string, mdDoc) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), parseMarkdown(string(b))
}

func TestKoreanReadmeKeepsTheEnglishStructure(t *testing.T) {
	_, en := readReadme(t, englishReadme)
	_, ko := readReadme(t, koreanReadme)
	if len(en.headings) == 0 || len(en.blocks) == 0 {
		t.Fatalf("%s: found %d headings and %d code blocks; the parser is broken", englishReadme, len(en.headings), len(en.blocks))
	}
	if err := compareEditions(en, ko); err != nil {
		t.Errorf("%s has drifted from %s: %v\nTranslate the change: headings in the same order and level, code blocks copied unchanged.", koreanReadme, englishReadme, err)
	}
}

func TestReadmeEditionsLinkToEachOther(t *testing.T) {
	for _, c := range []struct{ file, link string }{
		{englishReadme, "한국어: [README.ko.md](README.ko.md)"},
		{koreanReadme, "English: [README.md](README.md)"},
	} {
		src, _ := readReadme(t, c.file)
		// Near the top, where a reader looking for their language looks.
		if top := strings.SplitN(src, "\n", 6); !strings.Contains(strings.Join(top[:len(top)-1], "\n"), c.link) {
			t.Errorf("%s: the first lines do not link the other edition with %q", c.file, c.link)
		}
	}
}

func TestReadmeAnchorsNameAHeading(t *testing.T) {
	for _, name := range []string{englishReadme, koreanReadme} {
		src, doc := readReadme(t, name)
		if anchor := brokenAnchor(src, doc); anchor != "" {
			t.Errorf("%s: the link to #%s names no heading (a translated heading has a translated anchor)", name, anchor)
		}
	}
}

// TestCompareEditionsFindsDrift feeds the check the drifts it exists for and
// checks that each is caught and named.
func TestCompareEditionsFindsDrift(t *testing.T) {
	const en = "# T\n\n## A\n\ntext\n\n```sh\ngo run .   # start\n# not a heading\n```\n\n### B\n\n  ```\n  indented\n  ```\n"
	tests := []struct {
		name, ko, want string
	}{
		{"ok, prose and headings translated", "# T\n\n## 가\n\n본문\n\n```sh\ngo run .   # start\n# not a heading\n```\n\n### 나\n\n  ```\n  indented\n  ```\n", ""},
		{"nok, heading missing", "# T\n\n## 가\n\n```sh\ngo run .   # start\n# not a heading\n```\n\n  ```\n  indented\n  ```\n", `heading 3: README.md has ### "B" (line 12), README.ko.md has no more headings`},
		{"nok, heading level changed", "# T\n\n### 가\n\n```sh\ngo run .   # start\n# not a heading\n```\n\n### 나\n\n  ```\n  indented\n  ```\n", `heading 2: README.md has ## "A" (line 3), README.ko.md has ### "가" (line 3)`},
		{"nok, extra heading", "# T\n\n## 가\n\n```sh\ngo run .   # start\n# not a heading\n```\n\n### 나\n\n  ```\n  indented\n  ```\n\n## 다\n", `heading 4: README.ko.md has ## "다" (line 16), README.md has no more headings`},
		{"nok, comment in code translated", "# T\n\n## 가\n\n```sh\ngo run .   # 시작\n# not a heading\n```\n\n### 나\n\n  ```\n  indented\n  ```\n", `code block 1 differs at its line 2: README.md line 8 is "go run .   # start", README.ko.md line 6 is "go run .   # 시작"`},
		{"nok, indentation of a block changed", "# T\n\n## 가\n\n```sh\ngo run .   # start\n# not a heading\n```\n\n### 나\n\n```\nindented\n```\n", `code block 2 differs at its line 1: README.md line 14 is "  ` + "```" + `"`},
		{"nok, code block missing", "# T\n\n## 가\n\n```sh\ngo run .   # start\n# not a heading\n```\n\n### 나\n", "code block 2: README.md has one at line 14, README.ko.md has no more"},
		{"nok, comment in code taken for a heading", "# T\n\n## 가\n\n```sh\ngo run .   # start\n```\n# not a heading\n\n### 나\n\n  ```\n  indented\n  ```\n", `heading 3: README.md has ### "B" (line 12), README.ko.md has # "not a heading" (line 8)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := compareEditions(parseMarkdown(en), parseMarkdown(tt.ko))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected drift: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("drift not found, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("got %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestHeadingSlugMatchesGitHub(t *testing.T) {
	for text, want := range map[string]string{
		"1. Login": "1-login",
		"The distributed form: a gateway and a service": "the-distributed-form-a-gateway-and-a-service",
		"Where can a browser keep tokens?":              "where-can-a-browser-keep-tokens",
		"Not defended (on purpose, or not yet)":         "not-defended-on-purpose-or-not-yet",
		"브라우저는 토큰을 어디에 보관할 수 있나?":                       "브라우저는-토큰을-어디에-보관할-수-있나",
		"5. 만료와 401 챌린지":                                "5-만료와-401-챌린지",
		"Running with `Docker` Compose":                 "running-with-docker-compose",
	} {
		if got := headingSlug(text); got != want {
			t.Errorf("headingSlug(%q) = %q, want %q", text, got, want)
		}
	}
}
