#ifndef EVAC_CYAML_SHIM_H
#define EVAC_CYAML_SHIM_H
#include <yaml.h>
#endif
