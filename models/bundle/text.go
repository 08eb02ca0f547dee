package bundle

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText prints the bundle for people: version, features, scorecard, segments, which
// models it carries, and the scorecard's notes (`segstream bundle show`).
func (b *Bundle) WriteText(w io.Writer) error {
	p := &b.Payload
	fmt.Fprintf(w, "version %d  created %s  schema %d  sha256 %s\n", b.Version, b.Created.Format(time.RFC3339), b.SchemaVersion, b.SHA256)
	names := make([]string, len(p.Features))
	for i, f := range p.Features {
		names[i] = f.Name
		if f.Transform != "" {
			names[i] = f.Transform + "(" + f.Name + ")"
		}
	}
	fmt.Fprintf(w, "features: %s\n", strings.Join(names, ", "))
	fmt.Fprintf(w, "scorecard: %d rows, k=%d, silhouette %.3f, Calinski-Harabasz %.1f, Davies-Bouldin %.3f, smallest share %.1f%%\n",
		p.Scorecard.Rows, p.Scorecard.K, p.Scorecard.Silhouette, p.Scorecard.CalinskiHarabasz, p.Scorecard.DaviesBouldin, 100*p.Scorecard.MinShare)
	for _, s := range p.Segmentation.Segments {
		fmt.Fprintf(w, "  segment %d %-45q %5.1f%%\n", s.ID, s.Name, 100*s.Share)
	}
	fmt.Fprintf(w, "models: rfm %v, conversion %v, clv %v, purchase %v, mix %v\n", p.RFM != nil, p.Conversion != nil, p.CLV != nil, p.Purchase != nil, p.Mix != nil)
	for _, n := range p.Scorecard.Notes {
		fmt.Fprintln(w, "  note:", n)
	}
	return nil
}
