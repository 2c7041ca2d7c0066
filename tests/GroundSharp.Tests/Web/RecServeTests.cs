using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using GroundSharp.Data;
using GroundSharp.Rec;
using GroundSharp.Tests.Rec;
using GroundSharp.Web;
using Xunit;

namespace GroundSharp.Tests.Web;

/// <summary><c>serve</c> with a REC checkpoint: recognised from its metadata, answers with the anchor box and its candidates.</summary>
[Trait("Category", "Web")]
public class RecServeTests
{
    [Fact]
    public async Task A_rec_checkpoint_is_served_with_its_boxes_and_candidates()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"gs-recserve-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var checkpoint = Path.Combine(dir, "rec.safetensors");
            using (var model = TinyRecModel.Create()) model.Save(checkpoint);
            Assert.True(RecGrounder.IsRecCheckpoint(checkpoint));
            var e = Assert.Throws<GroundSharpException>(() => ServedModels.Load(checkpoint, null, null, "cpu", rec: false));
            Assert.Contains("is a REC checkpoint", e.Message);

            var imagePath = FixtureData.PathOf("image_0_320x240.png");
            await using var web = await WebTestServer.StartAsync(new ServeOptions(), ServedModels.Load(checkpoint, null, null, "cpu"));
            var info = await web.Client.GetFromJsonAsync<JsonElement>("/api/model");
            Assert.Equal("rec", info.GetProperty("method").GetString());
            Assert.Equal(4, info.GetProperty("topK").GetInt32());

            using var form = new MultipartFormDataContent();
            var file = new ByteArrayContent(File.ReadAllBytes(imagePath));
            file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            form.Add(file, "image", "picture.png");
            form.Add(new StringContent("red cube left\nblue ball"), "phrases");
            using var response = await web.Client.PostAsync("/api/ground", form);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, text);
            var body = JsonDocument.Parse(text).RootElement;
            Assert.Equal("rec", body.GetProperty("method").GetString());
            var results = body.GetProperty("results").EnumerateArray().ToList();
            Assert.Equal(2, results.Count);

            // The library directly, on another copy of the checkpoint, gives the same answers.
            using var direct = RecModel.Load(checkpoint);
            var expected = new RecGrounder(direct).Ground(ImageLoader.Load(imagePath), ["red cube left", "blue ball"]);
            for (int i = 0; i < 2; i++)
            {
                var r = results[i];
                Assert.Equal(JsonValueKind.Null, r.GetProperty("heatmapPng").ValueKind);
                var box = r.GetProperty("box").EnumerateArray().Select(v => v.GetDouble()).ToArray();
                Assert.Equal(new[] { expected[i].Box.X1, expected[i].Box.Y1, expected[i].Box.X2, expected[i].Box.Y2 }, box);
                Assert.Equal(expected[i].Point, (r.GetProperty("point")[0].GetInt32(), r.GetProperty("point")[1].GetInt32()));
                Assert.Equal(4, r.GetProperty("candidates").GetArrayLength());
                using var overlay = await web.Client.GetAsync(r.GetProperty("overlayUrl").GetString());
                Assert.True(overlay.IsSuccessStatusCode);
                Assert.Equal("image/png", overlay.Content.Headers.ContentType?.MediaType);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
