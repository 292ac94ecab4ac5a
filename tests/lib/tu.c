/* tu: see tu.h (being written). */
#include "tu.h"
