package app

// ExportBatches switches the export's batched loading, for app_test.
var ExportBatches = &exportBatches
