namespace GroundSharp.Eval;

/// <summary>Intersection over union of two boxes.</summary>
public static class Iou
{
    /// <summary>
    /// The official <c>computeIoU</c> of the ALBEF/AMC grounding evaluation, with its inclusive-pixel convention:
    /// the last covered pixel is x2 - 1 (x + w - 1 for an x,y,w,h box), the intersection is
    /// (ix2 - ix1 + 1) * (iy2 - iy1 + 1), but only when ix1 &lt; ix2 and iy1 &lt; iy2 strictly (an overlap one
    /// pixel wide counts as none), and the union uses the plain areas w * h. Two empty boxes (union 0) give 0
    /// (the official code divides by zero there).
    /// </summary>
    public static double Inclusive(Box a, Box b)
    {
        double ix1 = Math.Max(a.X1, b.X1);
        double iy1 = Math.Max(a.Y1, b.Y1);
        double ix2 = Math.Min(a.X2 - 1, b.X2 - 1);
        double iy2 = Math.Min(a.Y2 - 1, b.Y2 - 1);
        double intersection = ix1 < ix2 && iy1 < iy2 ? (ix2 - ix1 + 1) * (iy2 - iy1 + 1) : 0;
        double union = a.Area + b.Area - intersection;
        return union == 0 ? 0 : intersection / union;
    }
}
