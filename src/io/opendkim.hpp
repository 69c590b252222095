// libopendkim's C header for C++: it spells booleans C99's way (_Bool, from stdbool.h only
// when compiled as C), which C++ lacks; C++'s bool has the same ABI on every Debian target.
#pragma once
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool
