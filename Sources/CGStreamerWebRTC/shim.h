#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
