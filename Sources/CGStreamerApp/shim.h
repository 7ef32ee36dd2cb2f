#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>
