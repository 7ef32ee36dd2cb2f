#pragma once
#include <gst/gst.h>

// WebRTC viewers of a running output pipeline (WHEP). One viewer is a bin named `avd-viewer-<id>` next to the
// tees (in their bin): for each of video and audio, a queue fed by a request pad of the preset's tee, a payloader with the
// payload type the offer chose, and one webrtcbin. Signals and promises are handled here; every call blocks
// the calling thread (never call from a GStreamer streaming thread or an event loop).
typedef struct AvdWebRTCViewer AvdWebRTCViewer;

typedef struct {
    const gchar *id;                 // bin name suffix
    const gchar *offer;              // the viewer's SDP offer (text)
    const gchar *video_payloader;    // "rtph264pay" or "rtpvp8pay"
    const gchar *video_encoding;     // "H264" or "VP8" (as in the offer's rtpmap, upper case)
    gint video_pt;
    gint audio_pt;                   // -1: no audio for this viewer
    guint timeout_ms;                // for the whole negotiation including ICE gathering
} AvdWebRTCViewerRequest;

// Adds the viewer, negotiates and waits for ICE gathering to complete. On success returns the viewer and sets
// *answer (g_free it). On failure returns NULL, sets *error (g_free it) and leaves the pipeline as it was.
// `audio_tee` may be NULL.
AvdWebRTCViewer *avd_webrtc_viewer_create(GstElement *video_tee, GstElement *audio_tee,
                                          const AvdWebRTCViewerRequest *request, gchar **answer, gchar **error);

// GstWebRTCPeerConnectionState of the viewer's webrtcbin (0 new … 5 closed).
gint avd_webrtc_viewer_connection_state(AvdWebRTCViewer *viewer);

// Milliseconds since the viewer last sent anything (RTCP, DTLS) to avatard, or since it was created.
gint64 avd_webrtc_viewer_quiet_ms(AvdWebRTCViewer *viewer);

// Unlinks the viewer from the tees, stops it, removes it from the pipeline and frees it.
void avd_webrtc_viewer_destroy(AvdWebRTCViewer *viewer);

// Name of the viewer bin (`avd-viewer-…`) that contains `object`, or NULL (g_free the result).
gchar *avd_webrtc_viewer_owner(GstObject *object);
