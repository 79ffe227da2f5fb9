// Package detect finds faces in images and recognises them against
// enrolled collections: the recognition core of vigil's detect worker.
//
//   - Detector finds faces with an OpenCV Haar cascade (opencv-data's
//     haarcascade_frontalface_default.xml), tuned for video: scale factor
//     1.2, min neighbours 5, min face 60 pixels, on a grey copy of the frame
//     downscaled to at most 640 pixels wide.
//   - Recognizer turns a face into a Template and compares templates with a
//     similarity in [0, 1]. NewLBPH (local binary pattern histograms, pure
//     Go, no model file) is the default; NewONNX runs a face-embedding
//     model through OpenCV's DNN module.
//   - Collections stores enrolled faces (templates, optionally crops) in a
//     bbolt file and keeps every template in memory for matching.
//   - Worker is the detect worker: it takes fragment-ready notices from a
//     durable JetStream consumer, decodes sampled frames of each fragment
//     and publishes face events (worker*.go).
//
// Only Worker.Run starts goroutines, and joins them before it returns.
// OpenCV's own threads are set process-wide with SetOpenCVThreads.
package detect
