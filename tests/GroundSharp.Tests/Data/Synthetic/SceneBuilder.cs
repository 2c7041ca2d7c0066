using GroundSharp.Data.Synthetic;

namespace GroundSharp.Tests.Data.Synthetic;

/// <summary>Hand-built scenes for the rule tests: objects placed by their square's top-left corner and side.</summary>
internal static class SceneBuilder
{
    public static SceneObject Obj(ShapeKind shape, SynthColour colour, int left, int top, int side = 30,
        SizeClass size = SizeClass.Small, TextureKind texture = TextureKind.Solid) =>
        new(shape, colour, size, texture, left, top, side);

    public static Scene Scene(params SceneObject[] objects) => new(256, 256, BackgroundKind.Noisy, 1, objects);
}
