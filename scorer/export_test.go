package scorer

// The score-writing scripts, for tests that check which of them ran on which node.
var (
	CASScriptForTest     = casScript
	CASNodeScriptForTest = casNodeScript
)
