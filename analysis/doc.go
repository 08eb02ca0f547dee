// Package analysis holds the course's offline analyses behind `segstream analyze`: each reads
// its data set, fits the models of models/ on it, and returns a report that prints as tables
// (WriteText) or as JSON. The models stay pure; the files are read here.
//
//   - Incidence, BrandChoice and Quantity: the purchase models and their price elasticities
//     (docs/models/purchase.md).
//   - Segmentation: standardize, PCA, k-means, Ward and the validity indices by k;
//     AutoSegmentation: segment.Search over preprocessing × algorithm × k, the chosen
//     segmentation and the criteria of a useful segmentation measurable from the file.
//   - CLV: BG/NBD and Gamma-Gamma on CDNOW-style transactions.
//   - Conversion: the network against the logit baseline on the Audiobooks data.
//   - RFM: quintile scores and named segments of an Online Retail file.
//   - MMM: the marketing-mix model on a CSV of weekly revenue and spend, and a budget split
//     (docs/models/mmm.md).
package analysis
