/* placeholder: written on its own branch */
#include "fanoutsdp.h"
