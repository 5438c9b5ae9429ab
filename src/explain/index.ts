// One step of LLaMA, explained: the numbers (step.ts, lens.ts, sampling.ts) and the views
// (views.ts, internals.ts) the explorer page and `llama-ts explain` show.
export { explainStep, rmsScale, type ExplainStep, type ExplainOptions, type StepShape } from './step.js';
export { logitLens, type LensRow } from './lens.js';
export { reshape, checkSettings, type SamplingSettings, type CandidateRow, type Reshaped } from './sampling.js';
export { attentionView, headsGridView, lensView, distributionView, alternativesHtml, showPiece, kvGroup, type ViewContext } from './views.js';
export { residualView, rmsnormView, ropeView, swigluView } from './internals.js';
export { explainReport, explainPromptReport, EXPLAIN_CSS, type ReportOptions, type PromptTokenizer } from './report.js';
export { functionSource, VIEW_SOURCES, type ViewName, type SourceRef } from './sources.js';
export { bars, heatmap, lineChart, dials, esc, fmt } from './svg.js';
export { formatAlternatives, tokenText, wantsColor } from './terminal.js';
export { loadExplainerFromBytes, type Explainer } from './load.js';
