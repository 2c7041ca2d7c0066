using System.Globalization;
using System.Security;
using System.Text;

namespace GroundSharp.Data.Synthetic;

/// <summary>
/// Writes evaluation splits in the Flickr30k Entities layout: <c>Sentences/&lt;id&gt;.txt</c> (one line per phrase,
/// <c>[/EN#&lt;entity&gt;/&lt;type&gt;/&lt;shape&gt; phrase]</c>), <c>Annotations/&lt;id&gt;.xml</c> (PASCAL-VOC-style,
/// one <c>object</c> per scene object named by its entity id, 1-based inclusive pixel coordinates as in
/// PASCAL VOC), <c>&lt;split&gt;.txt</c> (image ids) and <c>Images/&lt;id&gt;.png</c> (copies of the split's images).
/// </summary>
public static class FlickrEntitiesLayout
{
    public static void Write(string flickrDir, string split, IReadOnlyList<SynthScene> scenes, string benchmarkDir)
    {
        foreach (var sub in new[] { "Sentences", "Annotations", "Images" }) Directory.CreateDirectory(Path.Combine(flickrDir, sub));
        foreach (var s in scenes)
        {
            SynthBenchmark.WriteAtomic(Path.Combine(flickrDir, "Sentences", s.ImageId + ".txt"), Sentences(s));
            SynthBenchmark.WriteAtomic(Path.Combine(flickrDir, "Annotations", s.ImageId + ".xml"), Annotation(s));
            File.Copy(Path.Combine(benchmarkDir, s.ImagePath), Path.Combine(flickrDir, "Images", s.ImageId + ".png"), overwrite: true);
        }
        SynthBenchmark.WriteAtomic(Path.Combine(flickrDir, split + ".txt"), string.Concat(scenes.Select(s => s.ImageId + "\n")));
    }

    /// <summary>One tagged sentence per phrase: "[/EN#30000121/attribute/circle the small red circle]".</summary>
    public static string Sentences(SynthScene s)
    {
        var sb = new StringBuilder();
        foreach (var p in s.Phrases) sb.Append($"[/EN#{s.EntityId(p.ObjectIndex)}/{p.CategoryLabel} {p.Text}]\n");
        return sb.ToString();
    }

    public static string Annotation(SynthScene s)
    {
        var sb = new StringBuilder();
        sb.Append("<annotation>\n");
        sb.Append($"  <filename>{SecurityElement.Escape(s.ImageId + ".png")}</filename>\n");
        sb.Append($"  <size>\n    <width>{s.Scene.Width}</width>\n    <height>{s.Scene.Height}</height>\n    <depth>3</depth>\n  </size>\n");
        for (int i = 0; i < s.Scene.Objects.Count; i++)
        {
            var b = s.Scene.Objects[i].Box;
            sb.Append(CultureInfo.InvariantCulture, $"  <object>\n    <name>{s.EntityId(i)}</name>\n    <bndbox>\n");
            sb.Append(CultureInfo.InvariantCulture, $"      <xmin>{(int)b.X1 + 1}</xmin>\n      <ymin>{(int)b.Y1 + 1}</ymin>\n");
            sb.Append(CultureInfo.InvariantCulture, $"      <xmax>{(int)b.X2}</xmax>\n      <ymax>{(int)b.Y2}</ymax>\n");
            sb.Append("    </bndbox>\n  </object>\n");
        }
        sb.Append("</annotation>\n");
        return sb.ToString();
    }
}
