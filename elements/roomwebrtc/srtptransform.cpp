/* placeholder: written on its own branch */
#include "srtptransform.h"
