/* placeholder: written on its own branch */
#include "dtlstransport.h"
