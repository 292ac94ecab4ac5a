/* cfg: see cfg.h (being written). */
#include "cfg.h"
