/* db: see db.h (being written). */
#include "db.h"
