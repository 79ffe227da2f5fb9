package streams

import "vigil/config"

// Duration is a time.Duration that JSON spells "168h" (config.Duration).
type Duration = config.Duration
