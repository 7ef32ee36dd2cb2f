// Umbrella header of the thin C shim: macro accessors and non-variadic
// replacements for variadic C APIs. No state and no logic lives here.
#pragma once
#include "avd_gst.h"
#include "avd_opus.h"
#include "avd_vk.h"
