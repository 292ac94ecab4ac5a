/* chan: see chan.h (being written). */
#include "chan.h"
