#include "CGnomonProto.h"
