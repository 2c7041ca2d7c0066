using GroundSharp.Eval;
using Xunit;

namespace GroundSharp.Tests.Eval;

public class IouTests
{
    [Fact]
    public void IdenticalBoxesGiveOne() =>
        Assert.Equal(1.0, Iou.Inclusive(Box.FromXywh(3, 4, 10, 20), Box.FromXywh(3, 4, 10, 20)));

    [Fact]
    public void HalfShiftedBoxes()
    {
        // Last pixels: x 9 and 14 -> inclusive intersection columns 5..9 = 5, rows 0..9 = 10; union 100 + 100 - 50.
        Assert.Equal(50.0 / 150, Iou.Inclusive(Box.FromXywh(0, 0, 10, 10), Box.FromXywh(5, 0, 10, 10)), 15);
    }

    [Fact]
    public void ContainedBox()
    {
        // Intersection columns/rows 2..5 inclusive = 4 x 4 = 16; union 100 + 16 - 16.
        Assert.Equal(0.16, Iou.Inclusive(Box.FromXywh(0, 0, 10, 10), Box.FromXywh(2, 2, 4, 4)), 15);
    }

    [Fact]
    public void OverlapOfOnePixelColumnCountsAsNone()
    {
        // ix1 = 9 = ix2: the official strict ix1 < ix2 test gives no intersection although one column is shared.
        Assert.Equal(0.0, Iou.Inclusive(Box.FromXywh(0, 0, 10, 10), Box.FromXywh(9, 0, 10, 10)));
        // Two shared columns: (10 - 9 + 1) * 10 = 20; union 110 + 100 - 20.
        Assert.Equal(20.0 / 190, Iou.Inclusive(Box.FromXywh(0, 0, 11, 10), Box.FromXywh(9, 0, 10, 10)), 15);
    }

    [Fact]
    public void DisjointAndEmptyBoxes()
    {
        Assert.Equal(0.0, Iou.Inclusive(Box.FromXywh(0, 0, 10, 10), Box.FromXywh(50, 50, 10, 10)));
        Assert.Equal(0.0, Iou.Inclusive(Box.FromXywh(0, 0, 0, 0), Box.FromXywh(0, 0, 0, 0)));
    }

    [Fact]
    public void FractionalBoxes()
    {
        var a = Box.FromXywh(10.5, 20.25, 30, 40);
        var b = Box.FromXywh(20, 30, 30, 40);
        double inter = (Math.Min(10.5 + 30 - 1, 20 + 30 - 1) - 20 + 1) * (Math.Min(20.25 + 40 - 1, 30 + 40 - 1) - 30 + 1);
        Assert.Equal(inter / (1200 + 1200 - inter), Iou.Inclusive(a, b), 14);
        Assert.Equal(Iou.Inclusive(a, b), Iou.Inclusive(b, a));
    }
}
