#include "CGStreamerWebRTCShims.h"
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
#include <string.h>

// See CGStreamerWebRTCShims.h. webrtcbin's actions answer through GstPromise on webrtcbin's own thread; the
// waits below are bounded by the request's deadline, and a promise answered after we gave up only touches
// its reference-counted waiter.

struct AvdWebRTCViewer {
    GstElement *bin;          // ref; child of the tees' parent bin while attached
    GstElement *webrtc;       // borrowed from bin
    GstElement *video_tee;    // ref
    GstElement *audio_tee;    // ref, may be NULL
    GstPad *video_tee_pad;    // request pad of video_tee (ref), NULL until linked
    GstPad *audio_tee_pad;    // request pad of audio_tee (ref)
    GstWebRTCRTPTransceiver *video_transceiver;   // ref
    GstWebRTCRTPTransceiver *audio_transceiver;   // ref, may be NULL
    gint *last_received;      // monotonic seconds of the last packet from the viewer (rc box, shared with the probes)
};

typedef struct {
    GMutex lock;
    GCond cond;
    gboolean done;
} AvdWaiter;

static void avd_waiter_clear(gpointer data) {
    AvdWaiter *w = data;
    g_mutex_clear(&w->lock);
    g_cond_clear(&w->cond);
}

static void avd_waiter_release(gpointer data) { g_atomic_rc_box_release_full(data, avd_waiter_clear); }

static void avd_waiter_signal(GstPromise *promise, gpointer data) {
    (void)promise;
    AvdWaiter *w = data;
    g_mutex_lock(&w->lock);
    w->done = TRUE;
    g_cond_broadcast(&w->cond);
    g_mutex_unlock(&w->lock);
}

// A promise whose change wakes *waiter; the promise holds one reference to the waiter, the caller another.
static GstPromise *avd_promise_new(AvdWaiter **waiter) {
    AvdWaiter *w = g_atomic_rc_box_new0(AvdWaiter);
    g_mutex_init(&w->lock);
    g_cond_init(&w->cond);
    *waiter = g_atomic_rc_box_acquire(w);
    return gst_promise_new_with_change_func(avd_waiter_signal, w, avd_waiter_release);
}

// Waits for the promise until `deadline` (monotonic µs). Returns its reply when it was answered without an
// error (owned by the promise), else NULL with *error set.
static const GstStructure *avd_promise_wait(GstPromise *promise, AvdWaiter *w, gint64 deadline, const gchar *what,
                                            gchar **error) {
    g_mutex_lock(&w->lock);
    while (!w->done) {
        if (!g_cond_wait_until(&w->cond, &w->lock, deadline)) break;
    }
    gboolean done = w->done;
    g_mutex_unlock(&w->lock);
    avd_waiter_release(w);
    if (!done) {
        gst_promise_interrupt(promise);
        *error = g_strdup_printf("%s timed out", what);
        return NULL;
    }
    if (gst_promise_wait(promise) != GST_PROMISE_RESULT_REPLIED) {
        *error = g_strdup_printf("%s was interrupted", what);
        return NULL;
    }
    const GstStructure *reply = gst_promise_get_reply(promise);
    if (reply && gst_structure_has_field(reply, "error")) {
        GError *e = NULL;
        gst_structure_get(reply, "error", G_TYPE_ERROR, &e, NULL);
        *error = g_strdup_printf("%s failed: %s", what, e ? e->message : "unknown error");
        if (e) g_error_free(e);
        return NULL;
    }
    return reply;
}

static GstEvent *avd_force_key_unit_event(void) {
    // What GstVideoEncoder understands as an upstream key-frame request (GstForceKeyUnit, all headers).
    GstStructure *s = gst_structure_new("GstForceKeyUnit",
                                        "running-time", G_TYPE_UINT64, (guint64)GST_CLOCK_TIME_NONE,
                                        "all-headers", G_TYPE_BOOLEAN, TRUE,
                                        "count", G_TYPE_UINT, 0u, NULL);
    return gst_event_new_custom(GST_EVENT_CUSTOM_UPSTREAM, s);
}

static void avd_request_key_frame_on(GstPad *tee_pad) {
    if (tee_pad) gst_pad_send_event(tee_pad, avd_force_key_unit_event());
}

static void avd_on_connection_state(GstElement *webrtc, GParamSpec *spec, gpointer data) {
    (void)spec;
    GstWebRTCPeerConnectionState state = GST_WEBRTC_PEER_CONNECTION_STATE_NEW;
    g_object_get(webrtc, "connection-state", &state, NULL);
    // Media flows from now on: the viewer needs a key frame to start decoding.
    if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED) avd_request_key_frame_on(GST_PAD(data));
}

static void avd_rc_release(gpointer data) { g_atomic_rc_box_release(data); }

static GstPadProbeReturn avd_on_received(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
    (void)pad;
    (void)info;
    g_atomic_int_set((gint *)data, (gint)(g_get_monotonic_time() / G_USEC_PER_SEC));
    return GST_PAD_PROBE_OK;
}

// Stamps every packet the viewer sends (RTCP receiver reports, DTLS) so a viewer that vanished without DELETE
// can be told from one that is quiet for a moment: webrtcbin keeps such a connection "connected".
static void avd_watch_received(AvdWebRTCViewer *v) {
    GstIterator *it = gst_bin_iterate_all_by_element_factory_name(GST_BIN(v->webrtc), "nicesrc");
    if (!it) return;
    GValue item = G_VALUE_INIT;
    gboolean done = FALSE;
    while (!done) {
        switch (gst_iterator_next(it, &item)) {
        case GST_ITERATOR_OK: {
            GstPad *src = gst_element_get_static_pad(GST_ELEMENT(g_value_get_object(&item)), "src");
            if (src) {
                gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, avd_on_received,
                                  g_atomic_rc_box_acquire(v->last_received), avd_rc_release);
                gst_object_unref(src);
            }
            g_value_reset(&item);
            break;
        }
        case GST_ITERATOR_RESYNC: gst_iterator_resync(it); break;
        default: done = TRUE; break;
        }
    }
    g_value_unset(&item);
    gst_iterator_free(it);
}

static GstElement *avd_make(const gchar *factory, gchar **error) {
    GstElement *e = gst_element_factory_make(factory, NULL);
    if (!e && !*error) {
        *error = g_strdup_printf("GStreamer element '%s' is missing (Debian: gstreamer1.0-plugins-bad, "
                                 "gstreamer1.0-nice, gstreamer1.0-plugins-good)", factory);
    }
    return e;
}

static GstWebRTCRTPTransceiver *avd_add_transceiver(GstElement *webrtc, const gchar *media, const gchar *encoding,
                                                    gint clock_rate, gint pt) {
    GstCaps *caps = gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, media,
                                        "encoding-name", G_TYPE_STRING, encoding,
                                        "clock-rate", G_TYPE_INT, clock_rate, "payload", G_TYPE_INT, pt, NULL);
    GstWebRTCRTPTransceiver *t = NULL;
    g_signal_emit_by_name(webrtc, "add-transceiver", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, caps, &t);
    gst_caps_unref(caps);
    return t;
}

// The sink pad webrtcbin made for a sending transceiver when the answer was set (ref), or NULL.
static GstPad *avd_sink_pad_for(GstElement *webrtc, GstWebRTCRTPTransceiver *t) {
    GstPad *found = NULL;
    GstIterator *it = gst_element_iterate_sink_pads(webrtc);
    GValue item = G_VALUE_INIT;
    gboolean done = FALSE;
    while (!done) {
        switch (gst_iterator_next(it, &item)) {
        case GST_ITERATOR_OK: {
            GstPad *pad = g_value_get_object(&item);
            GstWebRTCRTPTransceiver *pt = NULL;
            g_object_get(pad, "transceiver", &pt, NULL);
            if (pt == t) {
                found = gst_object_ref(pad);
                done = TRUE;
            }
            if (pt) gst_object_unref(pt);
            g_value_reset(&item);
            break;
        }
        case GST_ITERATOR_RESYNC: gst_iterator_resync(it); break;
        default: done = TRUE; break;
        }
    }
    g_value_unset(&item);
    gst_iterator_free(it);
    return found;
}

// Links payloader → webrtcbin's sink pad for the transceiver (webrtcbin creates it with the answer).
static gboolean avd_link_to_transceiver(GstElement *payloader, GstElement *webrtc, GstWebRTCRTPTransceiver *t,
                                        const gchar *kind, gchar **error) {
    GstPad *sink = avd_sink_pad_for(webrtc, t);
    if (!sink) {
        *error = g_strdup_printf("the answer does not send %s (no common codec?)", kind);
        return FALSE;
    }
    GstPad *src = gst_element_get_static_pad(payloader, "src");
    GstPadLinkReturn r = gst_pad_link(src, sink);
    gst_object_unref(src);
    gst_object_unref(sink);
    if (r != GST_PAD_LINK_OK) {
        *error = g_strdup_printf("cannot link the %s payloader to webrtcbin (%s)", kind, gst_pad_link_get_name(r));
        return FALSE;
    }
    return TRUE;
}

static GstPad *avd_link_tee(GstElement *tee, GstElement *bin, const gchar *ghost_name, gchar **error) {
    GstPad *tee_pad = gst_element_request_pad_simple(tee, "src_%u");
    if (!tee_pad) {
        *error = g_strdup("the preset's tee gave no source pad");
        return NULL;
    }
    GstPad *ghost = gst_element_get_static_pad(bin, ghost_name);
    GstPadLinkReturn r = gst_pad_link(tee_pad, ghost);
    gst_object_unref(ghost);
    if (r != GST_PAD_LINK_OK) {
        *error = g_strdup_printf("cannot link the %s tee to the viewer (%s)", ghost_name, gst_pad_link_get_name(r));
        gst_element_release_request_pad(tee, tee_pad);
        gst_object_unref(tee_pad);
        return NULL;
    }
    return tee_pad;
}

static gboolean avd_add_branch(GstElement *bin, const gchar *ghost_name, GstElement *queue, GstElement *payloader) {
    gst_bin_add_many(GST_BIN(bin), queue, payloader, NULL);
    if (!gst_element_link(queue, payloader)) return FALSE;
    GstPad *target = gst_element_get_static_pad(queue, "sink");
    GstPad *ghost = gst_ghost_pad_new(ghost_name, target);
    gst_object_unref(target);
    return ghost && gst_element_add_pad(bin, ghost);
}

AvdWebRTCViewer *avd_webrtc_viewer_create(GstElement *video_tee, GstElement *audio_tee,
                                          const AvdWebRTCViewerRequest *r, gchar **answer, gchar **error) {
    *answer = NULL;
    *error = NULL;
    const gint64 deadline = g_get_monotonic_time() + (gint64)r->timeout_ms * 1000;
    const gboolean with_audio = audio_tee != NULL && r->audio_pt >= 0;
    GstObject *parent = gst_object_get_parent(GST_OBJECT(video_tee));
    if (!parent || (with_audio && GST_OBJECT_PARENT(audio_tee) != parent)) {
        *error = g_strdup("the preset's tees must be in the same bin");
        if (parent) gst_object_unref(parent);
        return NULL;
    }

    GstSDPMessage *sdp = NULL;
    if (gst_sdp_message_new_from_text(r->offer, &sdp) != GST_SDP_OK || !sdp) {
        if (sdp) gst_sdp_message_free(sdp);
        gst_object_unref(parent);
        *error = g_strdup("the offer is not SDP");
        return NULL;
    }

    AvdWebRTCViewer *v = g_new0(AvdWebRTCViewer, 1);
    v->last_received = g_atomic_rc_box_new0(gint);
    g_atomic_int_set(v->last_received, (gint)(g_get_monotonic_time() / G_USEC_PER_SEC));
    v->video_tee = gst_object_ref(video_tee);
    v->audio_tee = with_audio ? gst_object_ref(audio_tee) : NULL;
    gchar *bin_name = g_strdup_printf("avd-viewer-%s", r->id);
    v->bin = gst_object_ref_sink(gst_bin_new(bin_name));
    g_free(bin_name);

    GstElement *webrtc = avd_make("webrtcbin", error);
    GstElement *vqueue = avd_make("queue", error);
    GstElement *vpay = avd_make(r->video_payloader, error);
    GstElement *aqueue = with_audio ? avd_make("queue", error) : NULL;
    GstElement *apay = with_audio ? avd_make("rtpopuspay", error) : NULL;
    if (*error) {
        GstElement *made[] = {webrtc, vqueue, vpay, aqueue, apay};
        for (guint i = 0; i < G_N_ELEMENTS(made); i++) if (made[i]) gst_object_unref(gst_object_ref_sink(made[i]));
        gst_sdp_message_free(sdp);
        gst_object_unref(parent);
        avd_webrtc_viewer_destroy(v);
        return NULL;
    }
    v->webrtc = webrtc;
    gst_util_set_object_arg(G_OBJECT(webrtc), "bundle-policy", "max-bundle");
    // Encoded media: a viewer that cannot keep up loses whole buffers, never stalls the session's tee.
    GstElement *queues[] = {vqueue, aqueue};
    for (guint i = 0; i < G_N_ELEMENTS(queues); i++) {
        if (!queues[i]) continue;
        g_object_set(queues[i], "max-size-buffers", 0u, "max-size-bytes", 0u,
                     "max-size-time", (guint64)(2 * GST_SECOND), NULL);
        gst_util_set_object_arg(G_OBJECT(queues[i]), "leaky", "downstream");
    }
    g_object_set(vpay, "pt", (guint)r->video_pt, "mtu", 1200u, NULL);
    if (g_strcmp0(r->video_payloader, "rtph264pay") == 0) {
        g_object_set(vpay, "config-interval", -1, NULL);
        gst_util_set_object_arg(G_OBJECT(vpay), "aggregate-mode", "zero-latency");
    } else if (g_strcmp0(r->video_payloader, "rtpvp8pay") == 0) {
        gst_util_set_object_arg(G_OBJECT(vpay), "picture-id-mode", "15-bit");
    }
    if (apay) g_object_set(apay, "pt", (guint)r->audio_pt, "mtu", 1200u, NULL);

    gst_bin_add(GST_BIN(v->bin), webrtc);
    if (!avd_add_branch(v->bin, "video", vqueue, vpay) || (with_audio && !avd_add_branch(v->bin, "audio", aqueue, apay))) {
        *error = g_strdup("cannot build the viewer's branches");
        goto fail;
    }
    if (!gst_bin_add(GST_BIN(parent), v->bin)) {
        *error = g_strdup("cannot add the viewer to the output pipeline");
        goto fail;
    }
    if (!gst_element_sync_state_with_parent(v->bin)) {
        *error = g_strdup("the viewer did not start");
        goto fail;
    }

    v->video_transceiver = avd_add_transceiver(webrtc, "video", r->video_encoding, 90000, r->video_pt);
    if (with_audio) v->audio_transceiver = avd_add_transceiver(webrtc, "audio", "OPUS", 48000, r->audio_pt);
    if (!v->video_transceiver || (with_audio && !v->audio_transceiver)) {
        *error = g_strdup("webrtcbin refused a transceiver");
        goto fail;
    }

    {
        GstWebRTCSessionDescription *offer = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER, sdp);
        sdp = NULL;
        AvdWaiter *w = NULL;
        GstPromise *p = avd_promise_new(&w);
        g_signal_emit_by_name(webrtc, "set-remote-description", offer, p);
        gst_webrtc_session_description_free(offer);
        const GstStructure *reply = avd_promise_wait(p, w, deadline, "setting the offer", error);
        (void)reply;
        gst_promise_unref(p);
        if (*error) goto fail;
    }

    {
        AvdWaiter *w = NULL;
        GstPromise *p = avd_promise_new(&w);
        g_signal_emit_by_name(webrtc, "create-answer", NULL, p);
        const GstStructure *reply = avd_promise_wait(p, w, deadline, "creating the answer", error);
        GstWebRTCSessionDescription *desc = NULL;
        if (reply) gst_structure_get(reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, NULL);
        gst_promise_unref(p);
        if (*error) goto fail;
        if (!desc) {
            *error = g_strdup("webrtcbin created no answer");
            goto fail;
        }
        AvdWaiter *w2 = NULL;
        GstPromise *p2 = avd_promise_new(&w2);
        g_signal_emit_by_name(webrtc, "set-local-description", desc, p2);
        gst_webrtc_session_description_free(desc);
        avd_promise_wait(p2, w2, deadline, "setting the answer", error);
        gst_promise_unref(p2);
        if (*error) goto fail;
    }

    // The answer is set: webrtcbin has a sink pad for each sending transceiver; feed them.
    if (!avd_link_to_transceiver(vpay, webrtc, v->video_transceiver, "video", error)) goto fail;
    if (with_audio && !avd_link_to_transceiver(apay, webrtc, v->audio_transceiver, "audio", error)) goto fail;
    v->video_tee_pad = avd_link_tee(video_tee, v->bin, "video", error);
    if (!v->video_tee_pad) goto fail;
    if (with_audio) {
        v->audio_tee_pad = avd_link_tee(audio_tee, v->bin, "audio", error);
        if (!v->audio_tee_pad) goto fail;
    }
    g_signal_connect_data(webrtc, "notify::connection-state", G_CALLBACK(avd_on_connection_state),
                          gst_object_ref(v->video_tee_pad), (GClosureNotify)(void (*)(void))gst_object_unref, 0);
    avd_request_key_frame_on(v->video_tee_pad);

    avd_watch_received(v);

    // No trickle ICE: the answer carries every local candidate.
    for (;;) {
        GstWebRTCICEGatheringState state = GST_WEBRTC_ICE_GATHERING_STATE_NEW;
        g_object_get(webrtc, "ice-gathering-state", &state, NULL);
        if (state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE) break;
        if (g_get_monotonic_time() >= deadline) {
            *error = g_strdup("ICE gathering did not complete in time");
            goto fail;
        }
        g_usleep(5000);
    }

    {
        GstWebRTCSessionDescription *local = NULL;
        g_object_get(webrtc, "local-description", &local, NULL);
        if (!local || !local->sdp) {
            if (local) gst_webrtc_session_description_free(local);
            *error = g_strdup("webrtcbin has no local description");
            goto fail;
        }
        gboolean video_accepted = FALSE;
        for (guint i = 0; i < gst_sdp_message_medias_len(local->sdp); i++) {
            const GstSDPMedia *m = gst_sdp_message_get_media(local->sdp, i);
            if (g_strcmp0(gst_sdp_media_get_media(m), "video") == 0 && gst_sdp_media_get_port(m) != 0) video_accepted = TRUE;
        }
        if (!video_accepted) {
            gst_webrtc_session_description_free(local);
            *error = g_strdup("the answer rejected the video m-line (no common codec)");
            goto fail;
        }
        *answer = gst_sdp_message_as_text(local->sdp);
        gst_webrtc_session_description_free(local);
    }
    gst_object_unref(parent);
    return v;

fail:
    if (sdp) gst_sdp_message_free(sdp);
    gst_object_unref(parent);
    avd_webrtc_viewer_destroy(v);
    return NULL;
}

gint avd_webrtc_viewer_connection_state(AvdWebRTCViewer *v) {
    GstWebRTCPeerConnectionState state = GST_WEBRTC_PEER_CONNECTION_STATE_CLOSED;
    if (v && v->webrtc) g_object_get(v->webrtc, "connection-state", &state, NULL);
    return (gint)state;
}

static void avd_release_tee_pad(GstElement *tee, GstPad **pad) {
    if (!*pad) return;
    // tee deactivates the pad under its stream lock: no push is in flight once this returns.
    gst_element_release_request_pad(tee, *pad);
    gst_object_unref(*pad);
    *pad = NULL;
}

gint64 avd_webrtc_viewer_quiet_ms(AvdWebRTCViewer *v) {
    if (!v || !v->last_received) return 0;
    gint64 last = g_atomic_int_get(v->last_received);
    return g_get_monotonic_time() / 1000 - last * 1000;
}

void avd_webrtc_viewer_destroy(AvdWebRTCViewer *v) {
    if (!v) return;
    if (v->video_tee) avd_release_tee_pad(v->video_tee, &v->video_tee_pad);
    if (v->audio_tee) avd_release_tee_pad(v->audio_tee, &v->audio_tee_pad);
    if (v->bin) {
        gst_element_set_state(v->bin, GST_STATE_NULL);
        GstObject *parent = gst_object_get_parent(GST_OBJECT(v->bin));
        if (parent) {
            gst_bin_remove(GST_BIN(parent), v->bin);
            gst_object_unref(parent);
        }
    }
    if (v->video_transceiver) gst_object_unref(v->video_transceiver);
    if (v->audio_transceiver) gst_object_unref(v->audio_transceiver);
    if (v->bin) gst_object_unref(v->bin);
    if (v->video_tee) gst_object_unref(v->video_tee);
    if (v->audio_tee) gst_object_unref(v->audio_tee);
    if (v->last_received) g_atomic_rc_box_release(v->last_received);
    g_free(v);
}

gchar *avd_webrtc_viewer_owner(GstObject *object) {
    GstObject *current = object ? gst_object_ref(object) : NULL;
    while (current) {
        const gchar *name = GST_OBJECT_NAME(current);
        if (name && g_str_has_prefix(name, "avd-viewer-")) {
            gchar *owner = g_strdup(name + strlen("avd-viewer-"));
            gst_object_unref(current);
            return owner;
        }
        GstObject *up = gst_object_get_parent(current);
        gst_object_unref(current);
        current = up;
    }
    return NULL;
}
