// Shared by the rasterizer passes (tools/demo/raster_ref.py defines the conventions): pinhole projection
// u = cx + f·x/z', v = cy − f·y/z' with z' = distance − z; pixel (row i, column j) sampled at (j+0.5, i+0.5);
// edges inclusive for either winding; perspective-correct barycentrics b_i ∝ λ_i / z'_i.

struct Projected { vec2 p[3]; vec3 z; float area; };

Projected project_triangle(vec3 a, vec3 b, vec3 c, float f, float cx, float cy, float distance) {
    Projected t;
    vec3 v[3] = vec3[3](a, b, c);
    for (int k = 0; k < 3; ++k) {
        float zp = distance - v[k].z;
        t.z[k] = zp;
        t.p[k] = vec2(cx + f * v[k].x / zp, cy - f * v[k].y / zp);
    }
    t.area = (t.p[1].x - t.p[0].x) * (t.p[2].y - t.p[0].y) - (t.p[1].y - t.p[0].y) * (t.p[2].x - t.p[0].x);
    return t;
}

// Screen-space barycentrics of the point q (each from its own edge function, as the reference computes them).
vec3 screen_barycentrics(Projected t, vec2 q) {
    vec2 p0 = t.p[0], p1 = t.p[1], p2 = t.p[2];
    float l0 = ((p1.x - q.x) * (p2.y - q.y) - (p1.y - q.y) * (p2.x - q.x)) / t.area;
    float l1 = ((p2.x - q.x) * (p0.y - q.y) - (p2.y - q.y) * (p0.x - q.x)) / t.area;
    float l2 = ((p0.x - q.x) * (p1.y - q.y) - (p0.y - q.y) * (p1.x - q.x)) / t.area;
    return vec3(l0, l1, l2);
}
