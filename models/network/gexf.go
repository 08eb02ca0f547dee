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

// GEXF is a GEXF file as ReadGEXF reads it: its graph's edge type, node attributes, nodes
// with their attribute values, and edges (the parts Gephi and WriteGEXF write).
type GEXF struct {
	XMLName xml.Name `xml:"gexf"`
	Version string   `xml:"version,attr"`
	Graph   struct {
		EdgeType   string          `xml:"defaultedgetype,attr"`
		Attributes []GEXFAttribute `xml:"attributes>attribute"`
		Nodes      []GEXFNode      `xml:"nodes>node"`
		Edges      []GEXFEdge      `xml:"edges>edge"`
	} `xml:"graph"`
}

// GEXFAttribute declares one node attribute.
type GEXFAttribute struct {
	ID    string `xml:"id,attr"`
	Title string `xml:"title,attr"`
	Type  string `xml:"type,attr"`
}

// GEXFNode is one node: its id, its label and its attribute values by attribute id.
type GEXFNode struct {
	ID     string `xml:"id,attr"`
	Label  string `xml:"label,attr"`
	Values []struct {
		For   string `xml:"for,attr"`
		Value string `xml:"value,attr"`
	} `xml:"attvalues>attvalue"`
}

// GEXFEdge is one edge; Weight is 1 where the file gives none.
type GEXFEdge struct {
	Source    string  `xml:"source,attr"`
	Target    string  `xml:"target,attr"`
	Weight    float64 `xml:"-"`
	RawWeight string  `xml:"weight,attr"` // as written
}

// Value returns the node's value of the attribute titled title in f, and whether it has one.
func (f *GEXF) Value(n *GEXFNode, title string) (string, bool) {
	for _, a := range f.Graph.Attributes {
		if a.Title == title {
			for _, v := range n.Values {
				if v.For == a.ID {
					return v.Value, true
				}
			}
		}
	}
	return "", false
}

// ReadGEXF reads a GEXF document (1.2 or 1.3; the namespace is not checked). An edge whose
// weight is not a number, or that names a node the file does not declare, is an error.
func ReadGEXF(r io.Reader) (*GEXF, error) {
	var f GEXF
	if err := xml.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("reading GEXF: %w", err)
	}
	nodes := make(map[string]bool, len(f.Graph.Nodes))
	for _, n := range f.Graph.Nodes {
		nodes[n.ID] = true
	}
	for i := range f.Graph.Edges {
		e := &f.Graph.Edges[i]
		e.Weight = 1
		if e.RawWeight != "" {
			w, err := strconv.ParseFloat(e.RawWeight, 64)
			if err != nil {
				return nil, fmt.Errorf("GEXF edge %d (%s → %s): weight %q is not a number", i, e.Source, e.Target, e.RawWeight)
			}
			e.Weight = w
		}
		if !nodes[e.Source] || !nodes[e.Target] {
			return nil, fmt.Errorf("GEXF edge %d: %s → %s names a node the file does not declare", i, e.Source, e.Target)
		}
	}
	return &f, nil
}
