package network

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// NodeAttr is one node attribute of a GEXF file: its title, its GEXF type ("double", "integer",
// "string") and each node's value.
type NodeAttr struct {
	Title string
	Type  string
	Value func(v int) string
}

// Float formats x for a GEXF double attribute.
func Float(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// WriteGEXF writes g as GEXF 1.3 (https://gexf.net/schema.html), the format Gephi opens: nodes
// with ids 0..n-1, labels[v] as v's label and the attributes, and every edge with its weight. An
// edge of an undirected graph is written once.
func WriteGEXF(w io.Writer, g *Graph, labels []string, attrs []NodeAttr) error {
	bw := bufio.NewWriter(w)
	esc := func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
		return b.String()
	}
	kind := "undirected"
	if g.directed {
		kind = "directed"
	}
	fmt.Fprintf(bw, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"+
		"<gexf xmlns=\"http://gexf.net/1.3\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "+
		"xsi:schemaLocation=\"http://gexf.net/1.3 http://gexf.net/1.3/gexf.xsd\" version=\"1.3\">\n"+
		"  <meta><creator>segstream</creator><description>customer interaction graph</description></meta>\n"+
		"  <graph mode=\"static\" defaultedgetype=\"%s\">\n", kind)
	if len(attrs) > 0 {
		bw.WriteString("    <attributes class=\"node\">\n")
		for i, a := range attrs {
			fmt.Fprintf(bw, "      <attribute id=\"%d\" title=\"%s\" type=\"%s\"/>\n", i, esc(a.Title), esc(a.Type))
		}
		bw.WriteString("    </attributes>\n")
	}
	bw.WriteString("    <nodes>\n")
	for v := range g.n {
		label := strconv.Itoa(v)
		if v < len(labels) {
			label = labels[v]
		}
		fmt.Fprintf(bw, "      <node id=\"%d\" label=\"%s\">", v, esc(label))
		if len(attrs) > 0 {
			bw.WriteString("<attvalues>")
			for i, a := range attrs {
				fmt.Fprintf(bw, "<attvalue for=\"%d\" value=\"%s\"/>", i, esc(a.Value(v)))
			}
			bw.WriteString("</attvalues>")
		}
		bw.WriteString("</node>\n")
	}
	bw.WriteString("    </nodes>\n    <edges>\n")
	id := 0
	g.EachEdge(func(from, to int, wt float64) {
		fmt.Fprintf(bw, "      <edge id=\"%d\" source=\"%d\" target=\"%d\" weight=\"%s\"/>\n", id, from, to, Float(wt))
		id++
	})
	bw.WriteString("    </edges>\n  </graph>\n</gexf>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing GEXF: %w", err)
	}
	return nil
}
